#include "agent/core/kube_watch.h"

#include <curl/curl.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <new>
#include <set>
#include <stdexcept>
#include <string_view>
#include <utility>

#include "agent/core/kube_http.h"
#include "agent/core/text.h"
#include "agent/process/kube_pod_json.h"

namespace infrared::core {
namespace {

using namespace kube_http;

using Clock = std::chrono::steady_clock;

constexpr char kComponent[] = "k8s";
constexpr char kStage[] = "k8s_api";
constexpr const char* kReasons[] = {"connect_failed", "http_error", "bad_response",
                                    "watch_expired"};
constexpr std::chrono::seconds kMinBackoff{1};
constexpr std::chrono::seconds kMaxBackoff{30};

enum class Ending { kDone, kExpired, kFailed, kStopped };

// The list-then-watch loop, on the watch thread.
class Session {
 public:
  using Sleep = std::function<void(std::chrono::seconds)>;

  Session(const KubeApiSettings& settings, Logger& logger, telemetry::SelfMetrics& self,
          const KubeWatch::Sink& sink, const std::atomic<bool>& stop, std::atomic<bool>& synced,
          Sleep sleep)
      : settings_(settings),
        logger_(logger),
        self_(self),
        sink_(sink),
        stop_(stop),
        synced_(synced),
        sleep_(std::move(sleep)),
        handle_(curl_easy_init()) {
    std::string base = settings_.url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    pods_url_ =
        base + "/api/v1/pods?fieldSelector=" + UrlEncode("spec.nodeName=" + settings_.node_name);
  }
  ~Session() { curl_easy_cleanup(handle_); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void Loop() {
    while (!stop_.load()) {
      const bool watching = listed_;
      const auto started = Clock::now();
      switch (Step()) {
        case Ending::kStopped:
          return;
        case Ending::kFailed:
          sleep_(backoff_);
          backoff_ = std::min(backoff_ * 2, kMaxBackoff);
          break;
        case Ending::kDone:
        case Ending::kExpired:
          // A server ending watches at once, with nothing in them, must not
          // make this a busy loop.
          if (watching && !answered_ && Clock::now() - started < kMinBackoff) {
            sleep_(kMinBackoff);
          }
          break;
      }
    }
  }

 private:
  Ending Step() {
    try {
      if (handle_ == nullptr) throw std::runtime_error("libcurl could not allocate a handle");
      return listed_ ? Watch() : List();
    } catch (const std::exception& e) {
      return Unexpected(e.what());
    } catch (...) {
      return Unexpected("unknown exception");
    }
  }

  Ending List() {
    Exchange exchange;
    if (const Ending ending = Request(pods_url_, false, exchange); ending != Ending::kDone) {
      return ending;
    }
    auto list = process::PodListFromJson(exchange.body);
    if (!list) {
      if (Count("bad_response", "list")) {
        logger_.Warn(kComponent, "The Kubernetes API server's pod list could not be parsed",
                     {{"server", settings_.url}, {"bytes", exchange.body.size()}});
      }
      return Ending::kFailed;
    }
    resource_version_ = std::move(list->resource_version);
    const std::size_t count = list->pods.size();
    if (sink_.replace) sink_.replace(std::move(list->pods));
    const bool first = !synced_.exchange(true);
    Succeeded();
    logger_.Log(first ? LogLevel::kInfo : LogLevel::kDebug, kComponent,
                "Listed the pods on this node", {{"node", settings_.node_name}, {"pods", count}});
    listed_ = true;
    return Ending::kDone;
  }

  Ending Watch() {
    const std::string url =
        pods_url_ + "&watch=1&resourceVersion=" + UrlEncode(resource_version_) +
        "&allowWatchBookmarks=true&timeoutSeconds=" + std::to_string(kWatchTimeoutSeconds);
    Ending ended_with = Ending::kDone;
    answered_ = false;
    Exchange exchange;
    exchange.on_line = [&](std::string_view line) { return OnEvent(line, ended_with); };
    exchange.on_long_line = [&] { BadEvent("A pod watch event over 16 MiB was dropped"); };
    Ending ending = Request(url, true, exchange);
    if (ending == Ending::kDone && !exchange.ended && !exchange.skipping) {
      exchange.ended = !OnEvent(exchange.body, ended_with);  // a last line without '\n'
    }
    if (ending == Ending::kDone && exchange.ended) ending = ended_with;
    if (ending == Ending::kExpired) {
      self_.Dropped(kStage, "watch_expired");
      logger_.Debug(kComponent, "The pod watch's resource version expired; relisting");
      listed_ = false;
    } else if (ending == Ending::kDone) {
      Succeeded();
    }
    return ending;
  }

  // Applies one watch line; false ends the watch, `ending` saying how.
  bool OnEvent(std::string_view line, Ending& ending) {
    line = Trim(line);
    if (line.empty()) return true;
    auto event = process::PodWatchEventFromJson(line);
    if (!event) {
      BadEvent("A pod watch event could not be parsed; it was skipped");
      return true;
    }
    using Type = process::PodWatchEvent::Type;
    if (event->type == Type::kError) {
      if (event->error_code == 410) {
        ending = Ending::kExpired;
      } else {
        if (Count("bad_response", "error event")) {
          logger_.Warn(kComponent, "The Kubernetes API server ended the pod watch with an error",
                       {{"server", settings_.url}, {"code", event->error_code}});
        }
        ending = Ending::kFailed;
      }
      return false;
    }
    if (event->type != Type::kBookmark && !event->pod) {
      BadEvent("A pod watch event carried no usable pod; it was skipped");
      return true;
    }
    // Once per watch, so that bad lines among good ones log once a watch.
    if (!answered_) Succeeded();
    answered_ = true;
    if (event->type == Type::kDeleted) {
      if (sink_.remove) sink_.remove(event->pod->uid);
    } else if (event->type != Type::kBookmark) {
      if (sink_.upsert) sink_.upsert(std::move(*event->pod));
    }
    if (!event->resource_version.empty()) resource_version_ = std::move(event->resource_version);
    return true;
  }

  // Sends one GET; kDone when the server answered 200 (the body is in `exchange`).
  Ending Request(const std::string& url, bool watch, Exchange& exchange) {
    std::optional<std::string> token = ReadToken(settings_.token_file);
    if (!token && FirstOf("token")) {
      logger_.Warn(kComponent,
                   "Cannot read a usable bearer token; requests go without one. Check the file.",
                   {{"token_file", settings_.token_file}});
    }
    curl_slist* headers = BuildHeaders(token.value_or(""));
    if (headers == nullptr) throw std::bad_alloc();
    exchange.handle = handle_;
    exchange.stop = &stop_;
    std::array<char, CURL_ERROR_SIZE> message{};
    CURLcode rc =
        Configure(handle_, url, settings_.ca_file, watch, headers, exchange, message.data());
    if (rc == CURLE_OK) rc = curl_easy_perform(handle_);
    // A refusal without a body never reached the body callback that reads the status.
    if (rc == CURLE_OK && exchange.status == 0) {
      curl_easy_getinfo(handle_, CURLINFO_RESPONSE_CODE, &exchange.status);
    }
    curl_easy_reset(handle_);  // nothing may dangle into the next request; connections stay
    curl_slist_free_all(headers);
    if (exchange.error) std::rethrow_exception(exchange.error);
    if (stop_.load()) return Ending::kStopped;
    if (exchange.ended) return Ending::kDone;
    if (exchange.too_large) {
      if (Count("bad_response", "list size")) {
        logger_.Warn(kComponent, "The pod list is larger than 64 MiB; it was not read",
                     {{"server", settings_.url}});
      }
      return Ending::kFailed;
    }
    if (watch && exchange.status == 410) return Ending::kExpired;
    if (exchange.status != 0 && exchange.status != 200) {
      return Refused(exchange, token.value_or(""));
    }
    // The server should have ended the watch itself; start another.
    if (watch && rc == CURLE_OPERATION_TIMEDOUT && exchange.status == 200) {
      exchange.body.clear();  // a cut line, not an event
      return Ending::kDone;
    }
    if (rc != CURLE_OK) {
      if (Count("connect_failed")) {
        logger_.Warn(kComponent,
                     "Cannot reach the Kubernetes API server; pods lack Kubernetes metadata until "
                     "it answers",
                     {{"server", settings_.url},
                      {"error", message[0] != '\0' ? message.data() : curl_easy_strerror(rc)}});
      }
      return Ending::kFailed;
    }
    return Ending::kDone;
  }

  Ending Refused(const Exchange& exchange, const std::string& token) {
    if (Count("http_error", std::to_string(exchange.status))) {
      std::string detail(Trim(exchange.body));
      // The server has no reason to echo the token, but a log is no place for it.
      for (std::size_t at; !token.empty() && (at = detail.find(token)) != std::string::npos;) {
        detail.replace(at, token.size(), "[token]");
      }
      logger_.Warn(kComponent,
                   "The Kubernetes API server refused the pod request; on 401 check the token, on "
                   "403 grant the service account get, list and watch on pods",
                   {{"server", settings_.url},
                    {"status", static_cast<std::int64_t>(exchange.status)},
                    {"detail", detail}});
    }
    return Ending::kFailed;
  }

  void BadEvent(std::string_view message) {
    if (Count("bad_response", message)) {
      logger_.Warn(kComponent, message, {{"server", settings_.url}});
    }
  }

  Ending Unexpected(const char* what) {
    listed_ = false;  // the copy may have missed events
    if (FirstOf("unexpected")) {
      logger_.Error(kComponent, "The pod watch failed unexpectedly; retrying", {{"error", what}});
    }
    return Ending::kFailed;
  }

  // Counts a failure; true when it is the first of its kind (`reason` and
  // `detail`) since the last success, worth a log line.
  bool Count(const char* reason, std::string_view detail = {}) {
    self_.Dropped(kStage, reason);
    return FirstOf(std::string(reason) + "/" + std::string(detail));
  }

  bool FirstOf(const std::string& kind) { return logged_.insert(kind).second; }

  // Resets the backoff, and the failure kinds logged.
  void Succeeded() {
    backoff_ = kMinBackoff;
    const bool refused = std::any_of(logged_.begin(), logged_.end(), [](const std::string& kind) {
      return kind.starts_with("connect_failed/") || kind.starts_with("http_error/");
    });
    if (refused) {
      logger_.Info(kComponent, "The Kubernetes API server answers again",
                   {{"server", settings_.url}});
    }
    logged_.clear();
  }

  const KubeApiSettings& settings_;
  Logger& logger_;
  telemetry::SelfMetrics& self_;
  const KubeWatch::Sink& sink_;
  const std::atomic<bool>& stop_;
  std::atomic<bool>& synced_;
  Sleep sleep_;
  CURL* handle_;
  std::string pods_url_;
  std::string resource_version_;
  bool listed_ = false;
  bool answered_ = false;  // the current watch has applied an event
  std::chrono::seconds backoff_ = kMinBackoff;
  std::set<std::string> logged_;  // failure kinds logged since the last success
};

}  // namespace

std::optional<KubeApiSettings> ResolveKubeApi(const std::string& api, const std::string& token_file,
                                              const std::string& ca_file,
                                              const std::string& node_name) {
  if (api == "off") return std::nullopt;
  if (api != "auto") return KubeApiSettings{api, token_file, ca_file, node_name};
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (host == nullptr || *host == '\0' || port == nullptr || *port == '\0') return std::nullopt;
  if (token_file.empty() || !std::ifstream(token_file)) return std::nullopt;
  std::string authority = host;
  if (authority.find(':') != std::string::npos && authority.front() != '[') {
    authority = "[" + authority + "]";  // an IPv6 address
  }
  return KubeApiSettings{"https://" + authority + ":" + port, token_file, ca_file, node_name};
}

std::unique_ptr<KubeWatch> KubeWatch::Start(KubeApiSettings settings, Logger& logger,
                                            telemetry::SelfMetrics& self, Sink sink) {
  GlobalInit();
  for (const char* reason : kReasons) self.Dropped(kStage, reason, 0);  // the series exist at once
  std::unique_ptr<KubeWatch> watch(
      new KubeWatch(std::move(settings), logger, self, std::move(sink)));
  watch->thread_ = std::thread(&KubeWatch::Run, watch.get());
  return watch;
}

KubeWatch::KubeWatch(KubeApiSettings settings, Logger& logger, telemetry::SelfMetrics& self,
                     Sink sink)
    : settings_(std::move(settings)), logger_(logger), self_(self), sink_(std::move(sink)) {}

KubeWatch::~KubeWatch() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void KubeWatch::Run() {
  const auto sleep = [this](std::chrono::seconds duration) {
    std::unique_lock<std::mutex> lock(mutex_);
    wake_.wait_for(lock, duration, [this] { return stop_.load(); });
  };
  try {
    Session session(settings_, logger_, self_, sink_, stop_, synced_, sleep);
    session.Loop();
  } catch (...) {
    // Session::Step catches all it can; the agent goes on without pods.
    logger_.Error(kComponent, "The pod watch stopped on an unexpected error");
  }
}

}  // namespace infrared::core
