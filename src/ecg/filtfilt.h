#pragma once
// Linear filtering as scipy.signal does it: lfilter (direct form II transposed, coefficients normalised by a[0]),
// lfilter_zi (steady-state initial conditions of a step response) and filtfilt (method 'pad', odd extension).
#include <cstdint>
#include <optional>
#include <vector>

#include "ecg/iir_design.h"

namespace agf::ecg {

// y = lfilter(b, a, x, zi=z); z is updated in place to the final state (size max(len(a), len(b)) - 1).
void lfilter(const TransferFunction& tf, const double* x, double* y, int64_t n, std::vector<double>& z);

// scipy.signal.lfilter_zi: solves (I - A^T) zi = b[1:] - a[1:] b[0] for the companion matrix A of a.
std::vector<double> lfilter_zi(const TransferFunction& tf);

// scipy's default pad length for filtfilt: 3 * max(len(a), len(b)). (Note: not 3 * (max - 1), which is MATLAB's.)
int64_t filtfilt_default_padlen(const TransferFunction& tf);

// scipy.signal.filtfilt(b, a, x, padtype='odd', padlen=padlen) on one channel, in place.
// n must exceed padlen (scipy's own condition); otherwise agf::Error naming both.
void filtfilt(const TransferFunction& tf, double* x, int64_t n, std::optional<int64_t> padlen = std::nullopt);

}  // namespace agf::ecg
