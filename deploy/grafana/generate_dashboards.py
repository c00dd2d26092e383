#!/usr/bin/env python3
"""Writes infrared's Grafana dashboards (Grafana 9 and 10, schema 37) beside this file:

  infrared-overview.json   workloads at a glance (LLM, HTTP, CPU, memory, TCP) and
                           the agents' own health
  infrared-llm.json        LLM calls: rates, errors, latency, time to first chunk,
                           tokens, cost
  infrared-processes.json  CPU, memory, context switches, page faults
  infrared-tcp.json        connects, latency, RTT, retransmits, resets, bytes

The JSON files are what Grafana loads (provisioning or Import); edit this script and
run it (python3 deploy/grafana/generate_dashboards.py) rather than the JSON, so that the
four keep the same variables and layout (ctest -L deploy fails when they differ).
Queries use only infrared's metrics (README, "Metrics") and `up`. The data source is the ${datasource} variable; service_name is
shown as the workload; namespace is k8s_namespace_name (absent outside Kubernetes,
where the "All" value still matches).
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DS = {"type": "prometheus", "uid": "${datasource}"}
RATE = "$__rate_interval"
WIDTH = 24
# Loss reasons that are not loss (README, infrared_dropped_total).
NOT_LOST = 'reason!~"peer_over_cap|open_set_full"'


# --- variables -----------------------------------------------------------------------

def datasource_variable():
    return {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
            "current": {}, "hide": 0, "refresh": 1, "regex": "", "options": [], "skipUrlSync": False}


def query_variable(name, label, query, all_value=".*", multi=True):
    """A variable filled from label_values(...). All is the regex .*, which also matches
    series without the label (outside Kubernetes)."""
    return {"name": name, "label": label, "type": "query", "datasource": DS,
            "query": {"query": query, "refId": "StandardVariableQuery"}, "definition": query,
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
            "includeAll": True, "allValue": all_value, "multi": multi, "refresh": 2, "sort": 1,
            "regex": "", "hide": 0, "options": [], "skipUrlSync": False}


def common_variables(metric):
    """datasource, instance (agent), namespace and service, chained, read from metric."""
    return [
        datasource_variable(),
        query_variable("instance", "Agent", "label_values(infrared_build_info, instance)"),
        query_variable("namespace", "Namespace",
                       f'label_values({metric}{{instance=~"$instance"}}, k8s_namespace_name)'),
        query_variable("service", "Workload",
                       f'label_values({metric}{{instance=~"$instance", k8s_namespace_name=~"$namespace"}}, '
                       'service_name)'),
    ]


WORKLOAD = 'instance=~"$instance", k8s_namespace_name=~"$namespace", service_name=~"$service"'
AGENT = 'instance=~"$instance"'


# --- panels ----------------------------------------------------------------------------

def target(expr, legend="", ref="A", instant=False, fmt=None):
    t = {"refId": ref, "datasource": DS, "expr": expr, "legendFormat": legend or "__auto",
         "range": not instant, "instant": instant, "editorMode": "code"}
    if fmt:
        t["format"] = fmt
    return t


def targets(*pairs):
    """[(expr, legend), ...] as targets A, B, ..."""
    return [target(expr, legend, chr(ord("A") + i)) for i, (expr, legend) in enumerate(pairs)]


def timeseries(title, pairs, unit="short", description="", stack=False, width=12, height=8, min_zero=True):
    defaults = {"unit": unit, "custom": {
        "drawStyle": "line", "lineWidth": 1, "fillOpacity": 20 if stack else 8, "showPoints": "never",
        "spanNulls": False, "stacking": {"mode": "normal" if stack else "none", "group": "A"}},
        "color": {"mode": "palette-classic"}}
    if min_zero:
        defaults["min"] = 0
    return {"type": "timeseries", "title": title, "description": description, "datasource": DS,
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": {"legend": {"displayMode": "table", "placement": "bottom", "showLegend": True,
                                   "calcs": ["mean", "max", "lastNotNull"]},
                        "tooltip": {"mode": "multi", "sort": "desc"}},
            "targets": targets(*pairs), "_size": (width, height)}


def stat(title, expr, unit="short", description="", thresholds=None, legend="", width=4, height=4,
         decimals=None):
    steps = [{"color": "green", "value": None}] + [
        {"color": color, "value": value} for value, color in (thresholds or [])]
    defaults = {"unit": unit, "thresholds": {"mode": "absolute", "steps": steps},
                "color": {"mode": "thresholds"}}
    if decimals is not None:
        defaults["decimals"] = decimals
    return {"type": "stat", "title": title, "description": description, "datasource": DS,
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "colorMode": "value", "graphMode": "area", "justifyMode": "auto",
                        "orientation": "auto", "textMode": "auto"},
            "targets": [target(expr, legend)], "_size": (width, height)}


def table(title, expr, description="", unit="short", width=12, height=8, hide=()):
    """An instant query as a table, one row per series, the value last."""
    return {"type": "table", "title": title, "description": description, "datasource": DS,
            "fieldConfig": {"defaults": {"unit": unit, "custom": {"align": "auto"}}, "overrides": []},
            "options": {"showHeader": True, "footer": {"show": False, "reducer": ["sum"], "fields": ""},
                        "sortBy": [{"displayName": "Value", "desc": True}]},
            "transformations": [{"id": "organize", "options": {
                "excludeByName": {"Time": True, **{name: True for name in hide}},
                "indexByName": {}, "renameByName": {}}}],
            "targets": [target(expr, "", instant=True, fmt="table")], "_size": (width, height)}


def heatmap(title, expr, description="", unit="s", width=12, height=8):
    return {"type": "heatmap", "title": title, "description": description, "datasource": DS,
            "fieldConfig": {"defaults": {"custom": {"scaleDistribution": {"type": "linear"}}}, "overrides": []},
            "options": {"calculate": False, "cellGap": 1, "yAxis": {"axisPlacement": "left", "unit": unit},
                        "color": {"mode": "scheme", "scheme": "Oranges", "fill": "dark-orange",
                                  "scale": "exponential", "exponent": 0.5, "steps": 64},
                        "rowsFrame": {"layout": "auto"}, "tooltip": {"show": True, "yHistogram": False},
                        "legend": {"show": True}, "exemplars": {"color": "rgba(255,0,255,0.7)"}},
            "targets": [target(expr, "{{le}}", fmt="heatmap")], "_size": (width, height)}


def row(title):
    return {"type": "row", "title": title, "collapsed": False, "panels": [], "_size": (WIDTH, 1)}


def quantiles(histogram, by, selector, legend, qs=(0.5, 0.95)):
    """histogram_quantile targets, one per quantile, aggregated by `by` and le."""
    return [(f"histogram_quantile({q}, sum by ({by}, le) (rate({histogram}_bucket{{{selector}}}[{RATE}])))",
             f"p{int(q * 100)} {legend}") for q in qs]


def ratio(counter, errors, by, selector):
    """Failed share of a histogram's calls (errors: the matcher of failed ones), 0 rather
    than no line when none failed."""
    every = f"sum by ({by}) (rate({counter}{{{selector}}}[{RATE}]))"
    failed = f"sum by ({by}) (rate({counter}{{{selector}, {errors}}}[{RATE}]))"
    return f"(\n  {failed}\n  or 0 * {every}\n)\n/\n{every}"


def layout(panels):
    """Places panels left to right, wrapping at the dashboard's width; numbers them."""
    x = y = line_height = 0
    placed = []
    for number, panel in enumerate(panels, 1):
        width, height = panel.pop("_size")
        if x + width > WIDTH or panel["type"] == "row":
            x, y, line_height = 0, y + line_height, 0
        panel["id"] = number
        panel["gridPos"] = {"h": height, "w": width, "x": x, "y": y}
        x += width
        line_height = max(line_height, height)
        if panel["type"] == "row":
            x, y, line_height = 0, y + height, 0
        placed.append(panel)
    return placed


def dashboard(uid, title, description, variables, panels):
    return {
        "uid": uid, "title": title, "description": description, "tags": ["infrared"],
        "editable": True, "graphTooltip": 1, "schemaVersion": 37, "version": 1,
        "time": {"from": "now-1h", "to": "now"}, "refresh": "30s", "timezone": "",
        "fiscalYearStartMonth": 0, "liveNow": False, "weekStart": "",
        "timepicker": {}, "annotations": {"list": []},
        "links": [{"title": "infrared", "type": "dashboards", "tags": ["infrared"], "asDropdown": True,
                   "includeVars": True, "keepTime": True, "icon": "external link", "targetBlank": False,
                   "tooltip": "", "url": ""}],
        "templating": {"list": variables},
        "panels": layout(panels),
    }


# --- dashboards ------------------------------------------------------------------------

def overview():
    genai = "gen_ai_client_operation_duration_seconds"
    server = "http_server_request_duration_seconds"
    client = "http_client_request_duration_seconds"
    panels = [
        row("Agents"),
        stat("Agents up", 'sum(up{job=~".*infrared.*", instance=~"$instance"})',
             description="infrared targets Prometheus scrapes successfully (job matching .*infrared.*)."),
        stat("Agents down", 'count(up{job=~".*infrared.*", instance=~"$instance"} == 0) or vector(0)',
             thresholds=[(1, "red")]),
        stat("Tracked processes", f"sum(infrared_tracked_processes{{{AGENT}}})"),
        stat("Followed connections", f"sum(infrared_tracked_connections{{{AGENT}}})",
             description="TCP connections whose payloads are parsed (HTTP, LLM calls)."),
        stat("Data lost in range", f"sum(increase(infrared_dropped_total{{{AGENT}, {NOT_LOST}}}[$__range])) or vector(0)",
             thresholds=[(1, "orange")], decimals=0,
             description="infrared_dropped_total over the time range; the Agent health row says where. "
                         "It includes kernel_sock/payload_truncated (bytes of calls longer than "
                         "capture.bytes_per_call, routine with large bodies), which the "
                         "InfraredDroppingData alert leaves out."),
        stat("Probes not attached", f"count(infrared_probe_attached{{{AGENT}}} == 0) or vector(0)",
             thresholds=[(1, "orange")]),
        row("Workloads"),
        timeseries("LLM calls per second by workload",
                   [(f"sum by (service_name) (rate({genai}_count{{{WORKLOAD}}}[{RATE}]))", "{{service_name}}")],
                   unit="reqps"),
        timeseries("LLM spend by workload (USD per hour)",
                   [(f"3600 * sum by (service_name) (rate(gen_ai_client_cost_usd_total{{{WORKLOAD}}}[{RATE}]))",
                     "{{service_name}}")], unit="currencyUSD",
                   description="From the price table; calls to unpriced models are not counted."),
        timeseries("LLM error ratio by workload",
                   [(ratio(f"{genai}_count", 'error_type!=""', "service_name", WORKLOAD), "{{service_name}}")],
                   unit="percentunit"),
        timeseries("LLM tokens per second by workload",
                   [(f"sum by (service_name, gen_ai_token_type) (rate(gen_ai_client_token_usage_sum{{{WORKLOAD}}}[{RATE}]))",
                     "{{service_name}} {{gen_ai_token_type}}")]),
        timeseries("HTTP requests served per second by workload",
                   [(f"sum by (service_name) (rate({server}_count{{{WORKLOAD}}}[{RATE}]))", "{{service_name}}")],
                   unit="reqps"),
        timeseries("HTTP server errors (5xx, no response) by workload",
                   [(ratio(f"{server}_count", 'error_type!=""', "service_name", WORKLOAD), "{{service_name}}")],
                   unit="percentunit"),
        timeseries("HTTP server latency by workload",
                   quantiles(server, "service_name", WORKLOAD, "{{service_name}}"), unit="s"),
        timeseries("HTTP client requests per second by workload and server",
                   [(f"sum by (service_name, server_address) (rate({client}_count{{{WORKLOAD}}}[{RATE}]))",
                     "{{service_name}} → {{server_address}}")], unit="reqps"),
        timeseries("HTTP client errors (4xx, 5xx, no response) by workload",
                   [(ratio(f"{client}_count", 'error_type!=""', "service_name", WORKLOAD), "{{service_name}}")],
                   unit="percentunit"),
        timeseries("HTTP client latency by workload",
                   quantiles(client, "service_name", WORKLOAD, "{{service_name}}"), unit="s"),
        timeseries("CPU by workload (cores)",
                   [(f"sum by (service_name) (rate(process_cpu_time_seconds_total{{{WORKLOAD}}}[{RATE}]))",
                     "{{service_name}}")], stack=True),
        timeseries("Resident memory by workload",
                   [(f"sum by (service_name) (process_memory_usage_bytes{{{WORKLOAD}}})", "{{service_name}}")],
                   unit="bytes", stack=True),
        timeseries("TCP connections opened per second by workload",
                   [(f"sum by (service_name, direction) (rate(tcp_connections_opened_total{{{WORKLOAD}}}[{RATE}]))",
                     "{{service_name}} {{direction}}")], unit="cps"),
        timeseries("TCP retransmits and resets per second by workload",
                   [(f"sum by (service_name) (rate(tcp_retransmits_total{{{WORKLOAD}}}[{RATE}]))",
                     "{{service_name}} retransmits"),
                    (f"sum by (service_name) (rate(tcp_resets_total{{{WORKLOAD}}}[{RATE}]))", "{{service_name}} resets")]),
        row("Agent health"),
        timeseries("Data lost per second by stage and reason",
                   [(f"sum by (instance, stage, reason) (rate(infrared_dropped_total{{{AGENT}}}[{RATE}])) > 0",
                     "{{instance}} {{stage}}/{{reason}}")],
                   description="infrared_dropped_total: the README's table says what each reason lost and what "
                               "to raise. tcp/peer_over_cap and tcp/open_set_full lose nothing."),
        timeseries("Kernel events per second by source",
                   [(f"sum by (source) (rate(infrared_events_total{{{AGENT}}}[{RATE}]))", "{{source}}")]),
        timeseries("Agent CPU (cores)",
                   [(f'sum by (instance) (rate(process_cpu_time_seconds_total{{{AGENT}, process_executable_name="infrared"}}[{RATE}]))',
                     "{{instance}} CPU")],
                   description="The agent's own process, as it reports itself."),
        timeseries("Agent resident memory",
                   [(f'sum by (instance) (process_memory_usage_bytes{{{AGENT}, process_executable_name="infrared"}})',
                     "{{instance}}")], unit="bytes"),
        timeseries("Payload capture skipped per second by reason",
                   [(f"sum by (reason) (rate(infrared_capture_skipped_calls_total{{{AGENT}}}[{RATE}]))", "{{reason}}")],
                   description="Socket reads and writes the kernel did not copy."),
        timeseries("Connections classified per second",
                   [(f"sum by (verdict) (rate(infrared_http_connections_total{{{AGENT}}}[{RATE}]))", "{{verdict}}"),
                    (f"sum(rate(infrared_http_parser_skipped_bytes_total{{{AGENT}}}[{RATE}]))", "parser skipped bytes/s")]),
        timeseries("TLS",
                   [(f"sum by (kind) (infrared_tls_libraries{{{AGENT}}})", "{{kind}} libraries"),
                    (f"sum(rate(infrared_tls_calls_total{{{AGENT}}}[{RATE}]))", "TLS calls/s"),
                    (f"sum(rate(infrared_tls_socket_guesses_total{{{AGENT}}}[{RATE}]))", "socket guesses/s")]),
        timeseries("OTLP export",
                   [(f"sum by (outcome) (rate(infrared_otlp_spans_total{{{AGENT}}}[{RATE}]))", "spans {{outcome}}/s"),
                    (f"sum(rate(infrared_otlp_retries_total{{{AGENT}}}[{RATE}]))", "retries/s"),
                    (f"sum(infrared_otlp_queue_spans{{{AGENT}}})", "queued spans")],
                   description="Only when otlp.endpoint is set."),
        timeseries("/metrics render time (p95)",
                   [(f"histogram_quantile(0.95, sum by (format, le) (rate(infrared_scrape_duration_seconds_bucket{{{AGENT}}}[{RATE}])))",
                     "{{format}}")], unit="s"),
        table("Probes not attached", f"infrared_probe_attached{{{AGENT}}} == 0",
              description="Probes that could not attach (the rest keeps working)."),
        table("Agent versions", f"count by (version) (infrared_build_info{{{AGENT}}})"),
    ]
    return dashboard("infrared-overview", "infrared / Overview",
                     "What infrared sees on each host: LLM calls, HTTP, CPU, memory, TCP per workload, "
                     "and the agents' own health.",
                     common_variables("process_cpu_time_seconds_total"), panels)


def llm():
    metric = "gen_ai_client_operation_duration_seconds"
    variables = common_variables(f"{metric}_count") + [
        query_variable("provider", "Provider",
                       f'label_values({metric}_count{{{WORKLOAD}}}, gen_ai_provider_name)'),
        query_variable("model", "Model",
                       f'label_values({metric}_count{{{WORKLOAD}, gen_ai_provider_name=~"$provider"}}, '
                       'gen_ai_request_model)'),
    ]
    sel = f'{WORKLOAD}, gen_ai_provider_name=~"$provider", gen_ai_request_model=~"$model"'
    count = f"{metric}_count"
    model = "service_name, gen_ai_request_model"
    model_legend = "{{service_name}} → {{gen_ai_request_model}}"
    panels = [
        row("At a glance"),
        stat("Calls per second", f"sum(rate({count}{{{sel}}}[{RATE}]))", unit="reqps"),
        stat("Error ratio", f"(sum(rate({count}{{{sel}, error_type!=\"\"}}[{RATE}])) or vector(0))\n/\n"
                            f"sum(rate({count}{{{sel}}}[{RATE}]))",
             unit="percentunit", thresholds=[(0.01, "orange"), (0.05, "red")]),
        stat("p95 latency", f"histogram_quantile(0.95, sum by (le) (rate({metric}_bucket{{{sel}}}[{RATE}])))",
             unit="s"),
        stat("Tokens in range", f"sum(increase(gen_ai_client_token_usage_sum{{{sel}}}[$__range]))", decimals=0),
        stat("Spend in range", f"sum(increase(gen_ai_client_cost_usd_total{{{sel}}}[$__range]))",
             unit="currencyUSD", decimals=2),
        stat("Unpriced calls in range",
             f"sum(increase(gen_ai_client_unpriced_operations_total{{{sel}}}[$__range])) or vector(0)", decimals=0,
             thresholds=[(1, "orange")],
             description="Calls whose model has no price: their cost is not counted. Add them with "
                         "genai.prices_file."),
        row("Calls"),
        timeseries("Calls per second by workload and model",
                   [(f"sum by ({model}) (rate({count}{{{sel}}}[{RATE}]))", model_legend)], unit="reqps"),
        timeseries("Calls per second by provider and operation",
                   [(f"sum by (gen_ai_provider_name, gen_ai_operation_name) (rate({count}{{{sel}}}[{RATE}]))",
                     "{{gen_ai_provider_name}} {{gen_ai_operation_name}}")], unit="reqps"),
        timeseries("Failed calls per second by error type",
                   [(f"sum by (service_name, error_type) (rate({count}{{{sel}, error_type!=\"\"}}[{RATE}]))",
                     "{{service_name}} {{error_type}}")], unit="reqps",
                   description="The provider's error type (rate_limit_exceeded, overloaded_error, ...), else "
                               "the HTTP status, else stream_incomplete."),
        timeseries("Error ratio by workload and model",
                   [(ratio(count, 'error_type!=""', model, sel), model_legend)], unit="percentunit"),
        timeseries("Calls per second by pod",
                   [(f"sum by (k8s_namespace_name, k8s_pod_name, k8s_container_name) (rate({count}{{{sel}}}[{RATE}]))",
                     "{{k8s_namespace_name}}/{{k8s_pod_name}} {{k8s_container_name}}")], unit="reqps",
                   description="Kubernetes only: elsewhere one series without labels."),
        timeseries("Calls per second by server",
                   [(f"sum by (server_address, gen_ai_provider_name) (rate({count}{{{sel}}}[{RATE}]))",
                     "{{server_address}} ({{gen_ai_provider_name}})")], unit="reqps"),
        row("Latency"),
        timeseries("Call latency by model (p50, p95)",
                   quantiles(metric, "gen_ai_request_model", sel, "{{gen_ai_request_model}}"), unit="s",
                   description="First request byte to last response byte."),
        heatmap("Call latency distribution",
                f"sum by (le) (rate({metric}_bucket{{{sel}}}[{RATE}]))"),
        timeseries("Time to first chunk by model (p50, p95)",
                   quantiles("gen_ai_client_operation_time_to_first_chunk_seconds", "gen_ai_request_model", sel,
                             "{{gen_ai_request_model}}"), unit="s",
                   description="Streams: first request byte to first response body byte."),
        timeseries("Time per output chunk by model (p50, p95)",
                   quantiles("gen_ai_client_operation_time_per_output_chunk_seconds", "gen_ai_request_model", sel,
                             "{{gen_ai_request_model}}"), unit="s",
                   description="Streams: between consecutive chunks that carried output."),
        timeseries("Call latency by workload (p95)",
                   quantiles(metric, "service_name", sel, "{{service_name}}", qs=(0.95,)), unit="s"),
        timeseries("Time to first chunk by workload (p95)",
                   quantiles("gen_ai_client_operation_time_to_first_chunk_seconds", "service_name", sel,
                             "{{service_name}}", qs=(0.95,)), unit="s"),
        row("Tokens"),
        timeseries("Tokens per second by type",
                   [(f"sum by (gen_ai_token_type) (rate(gen_ai_client_token_usage_sum{{{sel}}}[{RATE}]))",
                     "{{gen_ai_token_type}}")], stack=True,
                   description="Input includes cached tokens; output includes reasoning tokens."),
        timeseries("Tokens per second by workload and type",
                   [(f"sum by (service_name, gen_ai_token_type) (rate(gen_ai_client_token_usage_sum{{{sel}}}[{RATE}]))",
                     "{{service_name}} {{gen_ai_token_type}}")]),
        timeseries("Tokens per second by model and type",
                   [(f"sum by (gen_ai_request_model, gen_ai_token_type) (rate(gen_ai_client_token_usage_sum{{{sel}}}[{RATE}]))",
                     "{{gen_ai_request_model}} {{gen_ai_token_type}}")]),
        timeseries("Tokens per call by type (p50, p95)",
                   quantiles("gen_ai_client_token_usage", "gen_ai_token_type", sel, "{{gen_ai_token_type}}")),
        row("Cost"),
        timeseries("Spend by model (USD per hour)",
                   [(f"3600 * sum by (gen_ai_provider_name, gen_ai_request_model) (rate(gen_ai_client_cost_usd_total{{{sel}}}[{RATE}]))",
                     "{{gen_ai_request_model}} ({{gen_ai_provider_name}})")], unit="currencyUSD", stack=True),
        timeseries("Spend by workload (USD per hour)",
                   [(f"3600 * sum by (k8s_namespace_name, service_name) (rate(gen_ai_client_cost_usd_total{{{sel}}}[{RATE}]))",
                     "{{service_name}}")], unit="currencyUSD", stack=True),
        table("Spend in range by workload and model",
              f"sort_desc(sum by (k8s_namespace_name, service_name, gen_ai_request_model) "
              f"(increase(gen_ai_client_cost_usd_total{{{sel}}}[$__range])))", unit="currencyUSD"),
        timeseries("Unpriced calls per second by model",
                   [(f"sum by (gen_ai_provider_name, gen_ai_request_model) (rate(gen_ai_client_unpriced_operations_total{{{sel}}}[{RATE}]))",
                     "{{gen_ai_request_model}} ({{gen_ai_provider_name}})")], unit="reqps",
                   description="Calls whose model is not in the price table; add it with genai.prices_file."),
    ]
    return dashboard("infrared-llm", "infrared / LLM calls",
                     "LLM API calls infrared saw, from the network: rates, errors, latency, time to first "
                     "chunk, tokens and cost per workload and model.", variables, panels)


def processes():
    metric = "process_cpu_time_seconds_total"
    variables = common_variables(metric) + [
        query_variable("executable", "Executable",
                       f'label_values({metric}{{{WORKLOAD}}}, process_executable_name)'),
    ]
    sel = f'{WORKLOAD}, process_executable_name=~"$executable"'
    proc = "instance, service_name, process_executable_name, process_pid"
    proc_legend = "{{service_name}} {{process_executable_name}} ({{process_pid}})"
    panels = [
        row("By workload"),
        timeseries("CPU by workload (cores)",
                   [(f"sum by (service_name) (rate({metric}{{{sel}}}[{RATE}]))", "{{service_name}}")], stack=True,
                   description="On-CPU time of every thread of the workload's processes, per second."),
        timeseries("Resident memory by workload",
                   [(f"sum by (service_name) (process_memory_usage_bytes{{{sel}}})", "{{service_name}}")],
                   unit="bytes", stack=True),
        timeseries("Virtual memory by workload",
                   [(f"sum by (service_name) (process_memory_virtual_bytes{{{sel}}})", "{{service_name}}")],
                   unit="bytes"),
        timeseries("Processes by workload",
                   [(f"count by (service_name) (process_memory_usage_bytes{{{sel}}})", "{{service_name}}")]),
        timeseries("Context switches per second by workload and type",
                   [(f"sum by (service_name, process_context_switch_type) (rate(process_context_switches_total{{{sel}}}[{RATE}]))",
                     "{{service_name}} {{process_context_switch_type}}")],
                   description="Involuntary switches: the process wanted the CPU and was preempted."),
        timeseries("Page faults per second by workload",
                   [(f"sum by (service_name) (rate(process_paging_faults_total{{{sel}}}[{RATE}]))", "{{service_name}}")]),
        timeseries("CPU by pod (cores)",
                   [(f"sum by (k8s_namespace_name, k8s_pod_name, k8s_container_name) (rate({metric}{{{sel}}}[{RATE}]))",
                     "{{k8s_namespace_name}}/{{k8s_pod_name}} {{k8s_container_name}}")],
                   description="Kubernetes only: elsewhere one series without labels."),
        timeseries("Resident memory by pod",
                   [(f"sum by (k8s_namespace_name, k8s_pod_name, k8s_container_name) (process_memory_usage_bytes{{{sel}}})",
                     "{{k8s_namespace_name}}/{{k8s_pod_name}} {{k8s_container_name}}")], unit="bytes"),
        row("Top processes"),
        timeseries("CPU, top 10 processes (cores)",
                   [(f"topk(10, sum by ({proc}) (rate({metric}{{{sel}}}[{RATE}])))", proc_legend)]),
        timeseries("Resident memory, top 10 processes",
                   [(f"topk(10, sum by ({proc}) (process_memory_usage_bytes{{{sel}}}))", proc_legend)], unit="bytes"),
        timeseries("Involuntary context switches, top 10 processes",
                   [(f"topk(10, sum by ({proc}) (rate(process_context_switches_total{{{sel}, process_context_switch_type=\"involuntary\"}}[{RATE}])))",
                     proc_legend)]),
        timeseries("Page faults, top 10 processes",
                   [(f"topk(10, sum by ({proc}) (rate(process_paging_faults_total{{{sel}}}[{RATE}])))", proc_legend)]),
        table("Processes by resident memory",
              f"sort_desc(process_memory_usage_bytes{{{sel}}})", unit="bytes", width=24, height=10,
              hide=("__name__", "job")),
    ]
    return dashboard("infrared-processes", "infrared / Processes",
                     "CPU, memory, context switches and page faults of every process, per workload, pod and "
                     "process.", variables, panels)


def tcp():
    variables = common_variables("tcp_connections_opened_total") + [
        query_variable("peer", "Peer",
                       f'label_values(tcp_connections_opened_total{{{WORKLOAD}}}, server_address)'),
    ]
    sel = f'{WORKLOAD}, server_address=~"$peer"'
    peer = "server_address, server_port"
    peer_legend = "{{server_address}}:{{server_port}}"
    panels = [
        row("Connections"),
        timeseries("Connects per second by outcome",
                   [(f"sum by (outcome) (rate(tcp_connect_duration_seconds_count{{{sel}}}[{RATE}]))", "{{outcome}}")],
                   unit="cps", stack=True, description="Outbound connects: established, refused, timeout, reset."),
        timeseries("Failed connects per second by workload and peer",
                   [(f"sum by (service_name, server_address, server_port, outcome) "
                     f"(rate(tcp_connect_duration_seconds_count{{{sel}, outcome!=\"established\"}}[{RATE}]))",
                     "{{service_name}} → {{server_address}}:{{server_port}} {{outcome}}")], unit="cps"),
        timeseries("Connections opened per second by workload and direction",
                   [(f"sum by (service_name, direction) (rate(tcp_connections_opened_total{{{sel}}}[{RATE}]))",
                     "{{service_name}} {{direction}}")], unit="cps"),
        timeseries("Open connections by workload and direction",
                   [(f"sum by (service_name, direction) (tcp_connections_active{{{sel}}})",
                     "{{service_name}} {{direction}}")]),
        row("Latency"),
        timeseries("Connect latency by peer (p50, p95)",
                   quantiles("tcp_connect_duration_seconds", peer, f'{sel}, outcome="established"', peer_legend),
                   unit="s", description="SYN sent to handshake done, established connects only."),
        timeseries("Smoothed RTT by peer (p50, p95)",
                   quantiles("tcp_rtt_seconds", peer, sel, peer_legend), unit="s",
                   description="The kernel's smoothed RTT of each connection, taken at its close."),
        timeseries("Connection lifetime by workload (p50, p95)",
                   quantiles("tcp_connection_duration_seconds", "service_name, direction", sel,
                             "{{service_name}} {{direction}}"), unit="s"),
        timeseries("Connect latency by workload (p95)",
                   quantiles("tcp_connect_duration_seconds", "service_name", f'{sel}, outcome="established"',
                             "{{service_name}}", qs=(0.95,)), unit="s"),
        row("Errors"),
        timeseries("Retransmits per second by workload and peer",
                   [(f"sum by (service_name, server_address, server_port) (rate(tcp_retransmits_total{{{sel}}}[{RATE}])) > 0",
                     "{{service_name}} → {{server_address}}:{{server_port}}")],
                   description="Segments retransmitted, tail loss probes included."),
        timeseries("Resets per second by workload and side",
                   [(f"sum by (service_name, reset) (rate(tcp_resets_total{{{sel}}}[{RATE}]))",
                     "{{service_name}} {{reset}}")],
                   description="Resets on established connections, sent or received."),
        timeseries("Retransmits per connection opened by workload",
                   [(f"sum by (service_name) (rate(tcp_retransmits_total{{{sel}}}[{RATE}]))\n/\n"
                     f"sum by (service_name) (rate(tcp_connections_opened_total{{{sel}}}[{RATE}]))",
                     "{{service_name}}")]),
        row("Bytes"),
        timeseries("Bytes per second by workload",
                   [(f"sum by (service_name) (rate(tcp_bytes_sent_total{{{sel}}}[{RATE}]))", "{{service_name}} sent"),
                    (f"sum by (service_name) (rate(tcp_bytes_received_total{{{sel}}}[{RATE}]))",
                     "{{service_name}} received")], unit="Bps"),
        timeseries("Bytes per second by peer",
                   [(f"sum by ({peer}) (rate(tcp_bytes_sent_total{{{sel}}}[{RATE}]))", f"{peer_legend} sent"),
                    (f"sum by ({peer}) (rate(tcp_bytes_received_total{{{sel}}}[{RATE}]))", f"{peer_legend} received")],
                   unit="Bps"),
        table("Top peers by bytes in range",
              f"topk(20,\n  sum by (service_name, server_address, server_port, direction) "
              f"(increase(tcp_bytes_sent_total{{{sel}}}[$__range]))\n+\n"
              f"  sum by (service_name, server_address, server_port, direction) "
              f"(increase(tcp_bytes_received_total{{{sel}}}[$__range]))\n)",
              unit="bytes", width=24, height=10),
    ]
    return dashboard("infrared-tcp", "infrared / TCP",
                     "TCP connections per workload and peer: connects, latency, RTT, retransmits, resets, bytes. "
                     "Inbound connections are named by the local address and port they were accepted on.",
                     variables, panels)


def main():
    """Writes the dashboards here, or into the directory given (tests compare the two)."""
    out = sys.argv[1] if len(sys.argv) > 1 else HERE
    for name, build in (("infrared-overview", overview), ("infrared-llm", llm),
                        ("infrared-processes", processes), ("infrared-tcp", tcp)):
        with open(os.path.join(out, name + ".json"), "w") as f:
            json.dump(build(), f, indent=2, ensure_ascii=False)
            f.write("\n")


if __name__ == "__main__":
    main()
