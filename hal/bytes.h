// Caller-owned byte buffers passed across the HAL (C++17 has no std::span).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace edgeforge {

template <typename T>
class Span {
 public:
  constexpr Span() = default;
  constexpr Span(T* data, size_t size) : data_(data), size_(size) {}
  template <typename C, typename = decltype(std::declval<C&>().data())>
  Span(C& c) : data_(c.data()), size_(c.size()) {}  // NOLINT(google-explicit-constructor)
  template <size_t N>
  constexpr Span(T (&a)[N]) : data_(a), size_(N) {}  // NOLINT(google-explicit-constructor)

  constexpr T* data() const { return data_; }
  constexpr size_t size() const { return size_; }
  constexpr bool empty() const { return size_ == 0; }
  constexpr T& operator[](size_t i) const { return data_[i]; }
  constexpr T* begin() const { return data_; }
  constexpr T* end() const { return data_ + size_; }
  constexpr Span subspan(size_t offset, size_t count) const { return Span(data_ + offset, count); }

 private:
  T* data_ = nullptr;
  size_t size_ = 0;
};

using ConstBytes = Span<const uint8_t>;
using MutBytes = Span<uint8_t>;

inline ConstBytes AsBytes(std::string_view s) {
  return ConstBytes(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

}  // namespace edgeforge
