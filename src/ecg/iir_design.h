#pragma once
// Digital Butterworth band-pass design, step for step as scipy.signal.butter(N, [lo, hi], btype='bandpass', fs=fs):
// analog prototype poles (buttap), prewarped edges, lowpass->bandpass (lp2bp_zpk), bilinear transform (bilinear_zpk)
// and zpk->tf by repeated convolution (numpy.poly). All in double, so b and a agree with scipy to ~1e-15 relative.
#include <vector>

namespace agf::ecg {

struct TransferFunction {
  std::vector<double> b;  // numerator, highest power of z^-0 first (scipy order)
  std::vector<double> a;  // denominator, a[0] == 1
};

// order >= 1, 0 < low_hz < high_hz < fs / 2; otherwise agf::Error naming the values.
TransferFunction butter_bandpass(int order, double low_hz, double high_hz, double fs);

}  // namespace agf::ecg
