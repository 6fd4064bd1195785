#pragma once
// Polyphase resampling with scipy.signal.resample_poly semantics (window=('kaiser', 5.0), padtype='constant',
// cval=0): up/down reduced by their gcd, a 20*max(up,down)+1-tap firwin low-pass at 1/max(up,down) of Nyquist
// scaled by up, zero-stuff, filter, decimate, and the same output alignment and length ceil(n*up/down).
#include <cstdint>
#include <vector>

namespace agf::ecg {

// scipy.signal.firwin(numtaps, cutoff, window=('kaiser', beta)) for a low-pass (pass_zero=True, scale=True);
// cutoff relative to Nyquist (0 < cutoff < 1).
std::vector<double> firwin_kaiser_lowpass(int64_t numtaps, double cutoff, double beta);

// scipy.signal.windows.kaiser(m, beta, sym=True).
std::vector<double> kaiser_window(int64_t m, double beta);

// resample_poly's limit on the reduced up or down factor: its filter has 20 * max(up, down) + 1 taps.
inline constexpr int64_t kMaxResampleFactor = 10000;

struct ResampleRatio {
  int64_t up = 1, down = 1;
};
// The ratio from_fs -> to_fs as reduced integers; both rates must be positive integers (in Hz).
ResampleRatio resample_ratio(double from_fs, double to_fs);

// Output length of resample_poly: ceil(n * up / down) with up/down reduced.
int64_t resample_poly_length(int64_t n, int64_t up, int64_t down);

// scipy.signal.resample_poly(x, up, down) on one channel.
std::vector<double> resample_poly(const double* x, int64_t n, int64_t up, int64_t down);

}  // namespace agf::ecg
