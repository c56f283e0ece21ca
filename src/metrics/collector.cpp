#include "fulcrum/metrics/collector.h"

#include <prometheus/text_serializer.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <set>
#include <sstream>
#include <string_view>

#include "fulcrum/core/snapshot.h"
#include "fulcrum/sticky/source_ip_table.h"

namespace fulcrum::metrics {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

constexpr std::array<std::string_view, 18> kFamilyOrder{
    "fulcrum_downstream_connections_total",
    "fulcrum_downstream_connections_active",
    "fulcrum_http_requests_total",
    "fulcrum_http_request_duration_seconds",
    "fulcrum_upstream_requests_total",
    "fulcrum_upstream_connect_failures_total",
    "fulcrum_upstream_response_seconds",
    "fulcrum_backend_up",
    "fulcrum_backend_active_connections",
    "fulcrum_bytes_received_total",
    "fulcrum_bytes_sent_total",
    "fulcrum_health_checks_total",
    "fulcrum_outlier_ejections_total",
    "fulcrum_retries_total",
    "fulcrum_sticky_entries",
    "fulcrum_websocket_tunnels_active",
    "fulcrum_config_reloads_total",
    "fulcrum_config_generation",
};

// Labels are listed in name order so the exposition is stable and easy to grep.
MetricFamily family(const char* name, const char* help, MetricType type) {
  MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  return f;
}

void addCounter(MetricFamily& f, Labels labels, double value) {
  ClientMetric m;
  m.label = std::move(labels);
  m.counter.value = value;
  f.metric.push_back(std::move(m));
}

void addGauge(MetricFamily& f, Labels labels, double value) {
  ClientMetric m;
  m.label = std::move(labels);
  m.gauge.value = value;
  f.metric.push_back(std::move(m));
}

template <class Stats, class Read>
auto sum(const Stats& stats, Read read) {
  decltype(read(stats.cell(0))) total{};
  for (size_t w = 0; w < stats.size(); ++w) total += read(stats.cell(w));
  return total;
}

using CodeTotals = std::array<uint64_t, 500>;

template <class Stats, class Field>
CodeTotals sumCodes(const Stats& stats, Field field) {
  CodeTotals totals{};
  for (size_t w = 0; w < stats.size(); ++w) {
    const CodeCounters& codes = stats.cell(w).*field;
    for (size_t i = 0; i < totals.size(); ++i) totals[i] += codes.by_code[i].get();
  }
  return totals;
}

// Index 0 holds both 100 and out-of-range codes; a final status is never 100, so "other".
std::string codeLabel(size_t index) {
  return index == 0 ? std::string("other") : std::to_string(index + 100);
}

// `labels` must hold the ones that sort before "code"; `after` those that sort after it.
void addCodes(MetricFamily& f, const CodeTotals& totals, const Labels& before,
              const Labels& after) {
  for (size_t i = 0; i < totals.size(); ++i) {
    if (totals[i] == 0) continue;
    Labels labels = before;
    labels.push_back({"code", codeLabel(i)});
    labels.insert(labels.end(), after.begin(), after.end());
    addCounter(f, std::move(labels), static_cast<double>(totals[i]));
  }
}

template <class Stats, class Field>
void addHistogram(MetricFamily& f, const Stats& stats, Field field, Labels labels) {
  ClientMetric m;
  m.label = std::move(labels);
  std::array<uint64_t, kLatencyBuckets.size() + 1> counts{};
  uint64_t sum_ns = 0;
  for (size_t w = 0; w < stats.size(); ++w) {
    const Histogram& h = stats.cell(w).*field;
    for (size_t i = 0; i < counts.size(); ++i) counts[i] += h.buckets[i].get();
    sum_ns += h.sum_ns.load(std::memory_order_relaxed);
  }
  // Workers write buckets and count separately; deriving the count from the buckets keeps
  // the +Inf bucket equal to _count even mid-update.
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kLatencyBuckets.size(); ++i) {
    cumulative += counts[i];
    m.histogram.bucket.push_back({cumulative, kLatencyBuckets[i]});
  }
  cumulative += counts.back();
  m.histogram.sample_count = cumulative;  // the serializer adds le="+Inf" with this count
  m.histogram.sample_sum = static_cast<double>(sum_ns) / 1e9;
  f.metric.push_back(std::move(m));
}

void collectListeners(const StatsRegistry& stats, std::vector<MetricFamily>& out) {
  auto conns = family("fulcrum_downstream_connections_total", "Client connections accepted.",
                      MetricType::Counter);
  auto active = family("fulcrum_downstream_connections_active", "Client connections open now.",
                       MetricType::Gauge);
  auto received =
      family("fulcrum_bytes_received_total", "Bytes received from clients.", MetricType::Counter);
  auto sent = family("fulcrum_bytes_sent_total", "Bytes sent to clients.", MetricType::Counter);
  auto tunnels = family("fulcrum_websocket_tunnels_active",
                        "Upgraded (WebSocket) tunnels open now.", MetricType::Gauge);
  for (const auto& s : stats.listeners()) {
    const Labels labels{{"listener", s->listener}};
    addCounter(conns, labels,
               sum(*s, [](const ListenerCell& c) { return c.connections_total.get(); }));
    addGauge(active, labels,
             sum(*s, [](const ListenerCell& c) { return c.connections_active.get(); }));
    addCounter(received, labels,
               sum(*s, [](const ListenerCell& c) { return c.bytes_received.get(); }));
    addCounter(sent, labels, sum(*s, [](const ListenerCell& c) { return c.bytes_sent.get(); }));
    addGauge(tunnels, labels,
             sum(*s, [](const ListenerCell& c) { return c.websocket_tunnels_active.get(); }));
  }
  out.push_back(std::move(conns));
  out.push_back(std::move(active));
  out.push_back(std::move(received));
  out.push_back(std::move(sent));
  out.push_back(std::move(tunnels));
}

void collectRoutes(const StatsRegistry& stats, std::vector<MetricFamily>& out) {
  auto requests =
      family("fulcrum_http_requests_total",
             "HTTP requests answered, including proxy-generated errors.", MetricType::Counter);
  auto duration =
      family("fulcrum_http_request_duration_seconds",
             "Time from the request head to the end of the response.", MetricType::Histogram);
  for (const auto& s : stats.routes()) {
    addCodes(requests, sumCodes(*s, &RouteCell::requests), {},
             {{"listener", s->listener}, {"pool", s->pool}});
    addHistogram(duration, *s, &RouteCell::duration,
                 {{"listener", s->listener}, {"pool", s->pool}});
  }
  out.push_back(std::move(requests));
  out.push_back(std::move(duration));
}

void collectBackends(const StatsRegistry& stats, std::vector<MetricFamily>& out) {
  auto requests = family("fulcrum_upstream_requests_total",
                         "Requests sent to backends, by the status of the backend's response "
                         "(502 or 504 when it gave no usable one).",
                         MetricType::Counter);
  auto failures = family("fulcrum_upstream_connect_failures_total",
                         "Failed connection attempts to backends.", MetricType::Counter);
  auto response = family("fulcrum_upstream_response_seconds",
                         "Time from sending the request to the backend's response head.",
                         MetricType::Histogram);
  auto ejections = family("fulcrum_outlier_ejections_total",
                          "Backends ejected by outlier detection.", MetricType::Counter);
  for (const auto& s : stats.backends()) {
    const Labels labels{{"backend", s->backend}, {"pool", s->pool}};
    addCodes(requests, sumCodes(*s, &BackendCell::upstream_requests), {{"backend", s->backend}},
             {{"pool", s->pool}});
    addCounter(failures, labels,
               sum(*s, [](const BackendCell& c) { return c.connect_failures.get(); }));
    addHistogram(response, *s, &BackendCell::response, labels);
    addCounter(ejections, labels,
               sum(*s, [](const BackendCell& c) { return c.outlier_ejections.get(); }));
  }
  out.push_back(std::move(requests));
  out.push_back(std::move(failures));
  out.push_back(std::move(response));
  out.push_back(std::move(ejections));
}

// Only pools in source_ip sticky mode have a table; others export no sticky series.
bool hasStickyTable(const core::PoolRuntime& pool) {
  return pool.balancer && pool.balancer->source_ip_table != nullptr;
}

void collectSnapshot(const core::Snapshot* snapshot, MetricFamily& up, MetricFamily& active,
                     MetricFamily& sticky) {
  if (snapshot == nullptr) return;
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now().time_since_epoch())
                             .count();
  for (const auto& pool : snapshot->pools) {
    if (!pool.balancer || !pool.balancer->pool) continue;
    const std::string& name = pool.pool().name();
    std::set<std::string_view> seen;  // one series per address even if listed twice
    for (const auto& member : pool.pool().members) {
      if (!member.state || !seen.insert(member.address()).second) continue;
      const Labels labels{{"backend", member.address()}, {"pool", name}};
      const bool is_up = member.state->isUp() && !member.state->isEjected(now_ms);
      addGauge(up, labels, is_up ? 1 : 0);
      addGauge(active, labels, member.state->active.load(std::memory_order_relaxed));
    }
    if (hasStickyTable(pool)) {
      // Expired entries leave first (the sweep timer may not have run since they expired):
      // the gauge counts clients that would still stick.
      sticky::SourceIpTable& table = *pool.balancer->source_ip_table;
      table.expire(now_ms);
      addGauge(sticky, {{"pool", name}}, static_cast<double>(table.size()));
    }
  }
}

void collectControl(const StatsRegistry& stats, const core::Snapshot* snapshot,
                    std::vector<MetricFamily>& out) {
  const ControlStats& control = stats.control();
  auto checks =
      family("fulcrum_health_checks_total", "Active health check results.", MetricType::Counter);
  for (const auto& [key, counters] : control.health_checks) {
    const auto& [pool, backend] = key;
    addCounter(checks, {{"backend", backend}, {"pool", pool}, {"result", "success"}},
               static_cast<double>(counters[0].get()));
    addCounter(checks, {{"backend", backend}, {"pool", pool}, {"result", "failure"}},
               static_cast<double>(counters[1].get()));
  }
  out.push_back(std::move(checks));

  auto reloads = family("fulcrum_config_reloads_total", "Configuration reloads by result.",
                        MetricType::Counter);
  addCounter(reloads, {{"result", "success"}}, static_cast<double>(control.reloads_success.get()));
  addCounter(reloads, {{"result", "failure"}}, static_cast<double>(control.reloads_failure.get()));
  out.push_back(std::move(reloads));

  // The control thread sets the generation when it publishes; the snapshot's own number
  // covers the moment between building a snapshot and recording it.
  uint64_t generation = control.generation.load(std::memory_order_relaxed);
  if (snapshot != nullptr) generation = std::max(generation, snapshot->generation);
  auto gen = family("fulcrum_config_generation", "Generation of the configuration in force.",
                    MetricType::Gauge);
  addGauge(gen, {}, static_cast<double>(generation));
  out.push_back(std::move(gen));
}

}  // namespace

std::vector<MetricFamily> collectMetrics(const StatsRegistry& stats,
                                         const core::Snapshot* snapshot) {
  std::vector<MetricFamily> out;
  out.reserve(kFamilyOrder.size());
  collectListeners(stats, out);
  collectRoutes(stats, out);
  collectBackends(stats, out);

  auto up = family("fulcrum_backend_up", "1 if the backend is healthy and not ejected.",
                   MetricType::Gauge);
  auto active = family("fulcrum_backend_active_connections",
                       "Connections and requests currently using the backend (all workers).",
                       MetricType::Gauge);
  auto sticky = family("fulcrum_sticky_entries", "Entries in the pool's source-IP sticky table.",
                       MetricType::Gauge);
  collectSnapshot(snapshot, up, active, sticky);
  out.push_back(std::move(up));
  out.push_back(std::move(active));
  out.push_back(std::move(sticky));

  auto retries =
      family("fulcrum_retries_total",
             "Further attempts for one request: another backend after a failed connect, or the "
             "same request again on a fresh connection after a pooled one closed under it.",
             MetricType::Counter);
  for (const auto& s : stats.pools())
    addCounter(retries, {{"pool", s->pool}},
               sum(*s, [](const PoolCell& c) { return c.retries.get(); }));
  out.push_back(std::move(retries));

  collectControl(stats, snapshot, out);

  // CONFIG.md's table order, so the exposition reads like the documentation.
  auto rank = [](const MetricFamily& f) {
    for (size_t i = 0; i < kFamilyOrder.size(); ++i)
      if (kFamilyOrder[i] == f.name) return i;
    return kFamilyOrder.size();
  };
  std::stable_sort(out.begin(), out.end(),
                   [&](const MetricFamily& a, const MetricFamily& b) { return rank(a) < rank(b); });
  return out;
}

std::string renderMetrics(const StatsRegistry& stats, const core::Snapshot* snapshot) {
  std::ostringstream text;
  prometheus::TextSerializer().Serialize(text, collectMetrics(stats, snapshot));
  return std::move(text).str();
}

std::vector<MetricFamily> StatsCollector::Collect() const {
  const auto snapshot = snapshot_ ? snapshot_() : nullptr;
  return collectMetrics(stats_, snapshot.get());
}

}  // namespace fulcrum::metrics
