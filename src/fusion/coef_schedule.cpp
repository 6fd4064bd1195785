#include "fusion/coef_schedule.h"

#include <algorithm>

#include "fusion/train_config.h"
#include "tensor/error.h"

namespace agf::fusion {

CoefSchedule::CoefSchedule(Kind kind, double coef, double start, double end, double switch_fraction,
                           int64_t total_steps)
    : kind_(kind), coef_(coef), start_(start), end_(end), switch_fraction_(switch_fraction), total_(total_steps) {
  AGF_CHECK(total_steps > 0, "coef schedule: total steps must be positive, got {}", total_steps);
  for (double v : {coef, start, end, switch_fraction})
    AGF_CHECK(v >= 0 && v <= 1, "coef schedule: {} is outside [0, 1]", v);
}

CoefSchedule CoefSchedule::from_config(const TrainConfig& c, int64_t total_steps) {
  if (c.reference_compat) return {Kind::two_phase, c.coef, 0.99, 0.9, 0.2, total_steps};
  return {parse(c.coef_schedule), c.coef, c.coef_start, c.coef_end, c.coef_switch, total_steps};
}

CoefSchedule::Kind CoefSchedule::parse(const std::string& name) {
  if (name == "two_phase") return Kind::two_phase;
  if (name == "constant") return Kind::constant;
  if (name == "linear") return Kind::linear;
  AGF_FAIL("unknown coef_schedule '{}' (two_phase, constant, linear)", name);
}

double CoefSchedule::at(int64_t step) const {
  switch (kind_) {
    case Kind::constant: return coef_;
    case Kind::two_phase:
      return static_cast<double>(step) < switch_fraction_ * static_cast<double>(total_) ? start_ : end_;
    case Kind::linear: {
      const double t = total_ > 1 ? static_cast<double>(std::clamp<int64_t>(step, 0, total_ - 1)) /
                                        static_cast<double>(total_ - 1)
                                  : 0.0;
      return start_ + (end_ - start_) * t;
    }
  }
  return coef_;
}

}  // namespace agf::fusion
