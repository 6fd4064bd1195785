#pragma once
// CutMix for ECG batches (Yun et al., ICCV 2019; spec/data.md, training only): lambda ~ Beta(alpha, alpha), one box
// over the (lead x time) plane whose sides are sqrt(1 - lambda) of each axis, centred uniformly and clipped, copied
// into every record from a shuffled partner in the batch; labels mixed by the box's exact area fraction after
// clipping. All draws come from the caller's PhiloxStream.
#include <cstdint>
#include <vector>

#include "tensor/random.h"
#include "tensor/tensor.h"

namespace agf::dataset {

// Gamma(shape, 1) by Marsaglia & Tsang (2000); for shape < 1, Gamma(shape + 1) * U^(1 / shape).
double sample_gamma(PhiloxStream& rng, double shape);
// Beta(a, b) = X / (X + Y), X ~ Gamma(a), Y ~ Gamma(b).
double sample_beta(PhiloxStream& rng, double a, double b);

struct CutMixBox {
  double lambda = 1.0;              // the Beta draw
  int64_t lead_begin = 0, lead_end = 0;  // rows [begin, end) of the 12 leads
  int64_t time_begin = 0, time_end = 0;  // samples [begin, end)
  double area_fraction = 0.0;       // box area / (leads * T): the partner's share of every mixed label
  std::vector<int64_t> partner;     // record i takes the box from record partner[i] (a permutation of the batch)
};

// Draws lambda, the box and the partner permutation for a batch of `batch` records of (leads, length), in that
// order from `rng`; pure apart from the stream.
CutMixBox draw_cutmix_box(PhiloxStream& rng, int64_t batch, int64_t leads, int64_t length, double alpha = 0.75);

// Applies `box` in place: x (B, leads, T) f32 and y (B, K) f32, contiguous, on the CPU.
// x[i, box] = x_before[partner[i], box]; y[i] = (1 - f) y_before[i] + f y_before[partner[i]], f = area_fraction.
void apply_cutmix_(Tensor& x, Tensor& y, const CutMixBox& box);

// draw_cutmix_box + apply_cutmix_; returns the box used.
CutMixBox cutmix_(Tensor& x, Tensor& y, PhiloxStream& rng, double alpha = 0.75);

}  // namespace agf::dataset
