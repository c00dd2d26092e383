#include "agent/core/tls_capture.h"

#include <dirent.h>
#include <sys/stat.h>

#include <utility>

namespace infrared::core {
namespace {

// A full queue means exec storms: the processes dropped are still found if
// they map a libssl later, or by the next exec of the same file.
constexpr std::size_t kMaxQueued = 4096;
// Executables of processes gone before examination, remembered so that a
// storm of short-lived processes parses each file once.
constexpr std::size_t kMaxGoneRemembered = 4096;

// Where distributions keep libssl, looked at in the host's root (pid 1's, so
// that an agent in a container finds the host's files).
constexpr const char* kLibraryDirs[] = {
    "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib", "/usr/local/lib"};

const char* KindName(tls::TlsKind kind) { return kind == tls::TlsKind::kGo ? "go" : "openssl"; }

}  // namespace

TlsCapture::TlsCapture(std::unique_ptr<loader::TlsProbes> probes, Logger& logger,
                       telemetry::SelfMetrics& self, std::string proc_root)
    : probes_(std::move(probes)), logger_(logger), self_(self), proc_root_(std::move(proc_root)) {
  self_.Dropped("tls_attach", "queue_full", 0);
  libraries_["openssl"] = 0;
  libraries_["go"] = 0;
}

TlsCapture::~TlsCapture() { Stop(); }

void TlsCapture::AttachHostLibraries() {
  // pid 1's root is the host's when the agent runs in a container with the
  // host's pid namespace; its own root serves when it runs on the host.
  for (const std::string& root : {proc_root_ + "/1/root", std::string()}) {
    AttachLibrariesUnder(root);
  }
}

void TlsCapture::AttachLibrariesUnder(const std::string& root) {
  for (const char* dir : kLibraryDirs) {
    DIR* listing = opendir((root + dir).c_str());
    if (!listing) continue;
    while (dirent* entry = readdir(listing)) {
      const std::string name = entry->d_name;
      if (name.rfind("libssl.so.", 0) != 0) continue;
      std::string error;
      std::optional<tls::TlsTarget> target =
          tls::TlsTargetFinder::Resolve(root + dir + "/" + name, error);
      if (target) {
        AttachTarget(*target);
      } else if (!error.empty()) {
        logger_.Debug("tls", "not a usable libssl", {{"path", root + dir + "/" + name},
                                                     {"reason", error}});
      }
    }
    closedir(listing);
  }
}

void TlsCapture::ExamineNow(std::uint32_t pid) { Examine(pid); }

std::size_t TlsCapture::Examine(std::uint32_t pid) {
  tls::TlsScan result = finder_.Examine(pid, proc_root_);
  for (const std::string& note : result.notes) {
    logger_.Warn("tls", note, {{"pid", pid}});
  }
  for (const tls::TlsTarget& target : result.targets) AttachTarget(target);
  return result.targets.size();
}

// A short-lived process (a Go program doing one request, say) may be gone
// before its maps are read: its executable, as the exec named it in the
// agent's own mount namespace, is probed for the next process of that file.
// Each file is resolved once (the set is bounded).
void TlsCapture::ExamineGoneExecutable(const std::string& executable) {
  struct stat info {};
  if (executable.front() != '/' || stat(executable.c_str(), &info) != 0) return;
  const std::pair<std::uint64_t, std::uint64_t> file{info.st_dev, info.st_ino};
  if (!gone_resolved_.insert(file).second) return;
  gone_order_.push_back(file);
  if (gone_order_.size() > kMaxGoneRemembered) {
    gone_resolved_.erase(gone_order_.front());
    gone_order_.pop_front();
  }
  std::string error;
  std::optional<tls::TlsTarget> target = tls::TlsTargetFinder::Resolve(executable, error);
  if (target) AttachTarget(*target);
}

void TlsCapture::AttachTarget(const tls::TlsTarget& target) {
  // One file may be reached by several paths (/lib and /usr/lib, a
  // container's root) and met again once the finder forgot it.
  if (!attached_files_.insert({target.device, target.inode}).second) return;
  std::vector<loader::ProbeStatus> statuses = probes_->Attach(target, logger_);
  std::size_t attached = 0;
  for (const loader::ProbeStatus& status : statuses) {
    self_.ProbeAttached(status.name, status.attached, target.library);
    attached += status.attached ? 1 : 0;
  }
  logger_.Log(attached == 0 ? LogLevel::kWarn : LogLevel::kInfo, "tls",
              attached == 0 ? "no TLS probe could be attached to this library"
                            : "TLS library probed",
              {{"library", target.library},
               {"kind", KindName(target.kind)},
               {"path", target.path},
               {"functions", attached}});
  if (attached == 0) return;
  std::lock_guard<std::mutex> lock(mutex_);
  ++libraries_[KindName(target.kind)];
}

void TlsCapture::Enqueue(std::uint32_t pid, std::string executable) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (queue_.size() >= kMaxQueued) {
      self_.Dropped("tls_attach", "queue_full");
      return;
    }
    queue_.push_back({pid, std::move(executable)});
  }
  wake_.notify_one();
}

void TlsCapture::Start() { worker_ = std::thread([this] { WorkLoop(); }); }

void TlsCapture::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_one();
  if (worker_.joinable()) worker_.join();
}

void TlsCapture::WorkLoop() {
  for (;;) {
    Queued item;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      item = std::move(queue_.front());
      queue_.pop_front();
    }
    // A process gone (or a zombie) by now shows no maps: its executable,
    // as the exec named it, is looked at instead.
    if (Examine(item.pid) == 0 && !item.executable.empty()) {
      ExamineGoneExecutable(item.executable);
    }
  }
}

void TlsCapture::Collect(std::vector<telemetry::MetricFamily>& out) {
  telemetry::MetricFamily family;
  family.name = "infrared_tls_libraries";
  family.help = "TLS library files the agent attached its probes to, by kind.";
  family.type = telemetry::MetricType::kGauge;
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [kind, count] : libraries_) {
    family.samples.push_back({{{"kind", kind}}, static_cast<double>(count)});
  }
  out.push_back(std::move(family));
}

}  // namespace infrared::core
