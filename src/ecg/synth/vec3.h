#pragma once
// A 3-vector in the Frank vectorcardiographic frame: x towards the patient's left, y towards the feet (inferior),
// z towards the back (posterior). Frank's frame is the one the Dower lead transform is written in.
#include <cmath>

namespace agf::synth {

struct Vec3 {
  double x = 0.0, y = 0.0, z = 0.0;

  Vec3 operator+(const Vec3& o) const { return {x + o.x, y + o.y, z + o.z}; }
  Vec3 operator-(const Vec3& o) const { return {x - o.x, y - o.y, z - o.z}; }
  Vec3 operator*(double s) const { return {x * s, y * s, z * s}; }
  Vec3 operator-() const { return {-x, -y, -z}; }
  Vec3& operator+=(const Vec3& o) {
    x += o.x;
    y += o.y;
    z += o.z;
    return *this;
  }
  double dot(const Vec3& o) const { return x * o.x + y * o.y + z * o.z; }
  double norm() const { return std::sqrt(dot(*this)); }
  Vec3 normalized() const {
    const double n = norm();
    return n > 0.0 ? *this * (1.0 / n) : Vec3{};
  }
};

inline constexpr double kPi = 3.14159265358979323846;
inline double deg2rad(double d) { return d * kPi / 180.0; }
inline double rad2deg(double r) { return r * 180.0 / kPi; }

// Rotation in the frontal plane (about the antero-posterior z axis): positive angles turn x (left) towards y
// (inferior), i.e. clockwise as the hexaxial diagram is drawn, which is the direction the frontal QRS axis grows.
inline Vec3 rotate_frontal(const Vec3& v, double rad) {
  const double c = std::cos(rad), s = std::sin(rad);
  return {c * v.x - s * v.y, s * v.x + c * v.y, v.z};
}

// Rotation about the longitudinal y axis: positive angles turn x (left) towards z (posterior). Viewed from below
// (as the horizontal plane is drawn) this is the heart's "clockwise" rotation that moves the precordial R/S
// transition towards V5-V6.
inline Vec3 rotate_longitudinal(const Vec3& v, double rad) {
  const double c = std::cos(rad), s = std::sin(rad);
  return {c * v.x - s * v.z, v.y, s * v.x + c * v.z};
}

// Rotation about the left-right x axis: positive angles turn y (inferior) towards z (posterior).
inline Vec3 rotate_transverse(const Vec3& v, double rad) {
  const double c = std::cos(rad), s = std::sin(rad);
  return {v.x, c * v.y - s * v.z, s * v.y + c * v.z};
}

}  // namespace agf::synth
