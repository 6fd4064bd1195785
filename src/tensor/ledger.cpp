#include "tensor/ledger.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <deque>
#include <map>

namespace agf {

std::string_view mem_tag_name(MemTag t) {
  switch (t) {
    case MemTag::params: return "params";
    case MemTag::grads: return "grads";
    case MemTag::optimizer: return "optimizer";
    case MemTag::activations: return "activations";
    case MemTag::workspace: return "workspace";
    case MemTag::data: return "data";
    case MemTag::other: return "other";
  }
  return "?";
}

namespace {
thread_local MemTag t_current_tag = MemTag::other;
}

MemTag current_mem_tag() { return t_current_tag; }
MemScope::MemScope(MemTag tag) : saved_(t_current_tag) { t_current_tag = tag; }
MemScope::~MemScope() { t_current_tag = saved_; }

void MemoryLedger::on_alloc(MemTag tag, size_t bytes) {
  std::lock_guard lk(mu_);
  auto& c = tags_[static_cast<int>(tag)];
  c.live += static_cast<int64_t>(bytes);
  c.peak = std::max(c.peak, c.live);
  c.allocs++;
  total_.live += static_cast<int64_t>(bytes);
  total_.peak = std::max(total_.peak, total_.live);
  total_.allocs++;
}

void MemoryLedger::on_free(MemTag tag, size_t bytes) {
  std::lock_guard lk(mu_);
  tags_[static_cast<int>(tag)].live -= static_cast<int64_t>(bytes);
  total_.live -= static_cast<int64_t>(bytes);
}

void MemoryLedger::set_reserved(int64_t bytes) {
  std::lock_guard lk(mu_);
  reserved_ = bytes;
  peak_reserved_ = std::max(peak_reserved_, bytes);
}

LedgerCounts MemoryLedger::tag(MemTag t) const {
  std::lock_guard lk(mu_);
  return tags_[static_cast<int>(t)];
}

LedgerCounts MemoryLedger::total() const {
  std::lock_guard lk(mu_);
  return total_;
}

int64_t MemoryLedger::reserved() const {
  std::lock_guard lk(mu_);
  return reserved_;
}

int64_t MemoryLedger::peak_reserved() const {
  std::lock_guard lk(mu_);
  return peak_reserved_;
}

void MemoryLedger::reset_peak() {
  std::lock_guard lk(mu_);
  for (auto& c : tags_) c.peak = c.live;
  total_.peak = total_.live;
  peak_reserved_ = reserved_;
}

nlohmann::json MemoryLedger::snapshot() const {
  std::lock_guard lk(mu_);
  nlohmann::json j;
  j["device"] = device_.str();
  auto counts = [](const LedgerCounts& c) {
    return nlohmann::json{{"live_bytes", c.live}, {"peak_bytes", c.peak}, {"allocations", c.allocs}};
  };
  for (int i = 0; i < kNumMemTags; ++i) j["tags"][std::string(mem_tag_name(static_cast<MemTag>(i)))] = counts(tags_[i]);
  j["total"] = counts(total_);
  j["reserved_bytes"] = reserved_;
  j["peak_reserved_bytes"] = peak_reserved_;
  return j;
}

MemoryLedger& ledger(Device d) {
  // Ledgers are never destroyed: storages freed during static destruction still report to them.
  static std::mutex mu;
  static auto* ledgers = new std::map<std::pair<int, int>, MemoryLedger*>();
  std::lock_guard lk(mu);
  auto key = std::make_pair(static_cast<int>(d.type), d.is_cpu() ? 0 : d.index);
  auto it = ledgers->find(key);
  if (it == ledgers->end()) it = ledgers->emplace(key, new MemoryLedger(d)).first;
  return *it->second;
}

}  // namespace agf
