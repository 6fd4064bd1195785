#pragma once
// The fusion coefficient over a run (spec/fusion.md): two_phase (coef_start for the first coef_switch of the
// planned steps, then coef_end: 0.99 for 20%, then 0.9 by default), constant (coef), linear (coef_start -> coef_end).
// The PyTorch reference ignores its coef option and always runs the default two-phase schedule: reference_compat
// does the same.
#include <cstdint>
#include <string>

namespace agf::fusion {

struct TrainConfig;

class CoefSchedule {
 public:
  enum class Kind { two_phase, constant, linear };
  CoefSchedule(Kind kind, double coef, double start, double end, double switch_fraction, int64_t total_steps);
  static CoefSchedule from_config(const TrainConfig& c, int64_t total_steps);
  static Kind parse(const std::string& name);
  double at(int64_t step) const;  // step = 0 .. total - 1

 private:
  Kind kind_;
  double coef_, start_, end_, switch_fraction_;
  int64_t total_;
};

}  // namespace agf::fusion
