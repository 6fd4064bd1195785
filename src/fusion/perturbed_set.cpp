#include "fusion/perturbed_set.h"

namespace agf::fusion {

PerturbedSet::PerturbedSet(const std::vector<std::pair<std::string, Tensor*>>& params) {
  uint64_t next = 0;
  for (const auto& [name, t] : params) {
    AGF_CHECK(t->defined() && t->is_contiguous(), "perturbed set: parameter '{}' must be a contiguous tensor", name);
    entries_.push_back({name, t, t->numel(), next});
    numel_ += t->numel();
    next += (static_cast<uint64_t>(t->numel()) + 3) & ~uint64_t{3};
  }
}

void PerturbedSet::perturb(const ops::SpsaDirection& d, double scale, int repeats) const {
  std::vector<Tensor> params;
  std::vector<uint64_t> offsets;
  for (const Entry& e : entries_) {
    params.push_back(*e.param);
    offsets.push_back(e.offset);
  }
  ops::spsa_perturb_(params, offsets, d, scale, repeats);
}

std::vector<double> PerturbedSet::sqnorms(const ops::SpsaDirection& d) const {
  std::vector<int64_t> numels;
  std::vector<uint64_t> offsets;
  for (const Entry& e : entries_) {
    numels.push_back(e.numel);
    offsets.push_back(e.offset);
  }
  // The regeneration runs where the parameters live (the set is on one device: spsa_perturb_ checks it).
  const Device device = entries_.empty() ? Device::cpu() : entries_.front().param->device();
  return ops::spsa_sqnorms(numels, offsets, d, device);
}

}  // namespace agf::fusion
