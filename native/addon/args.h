#pragma once
// Argument checking for the N-API bindings. Every binding takes one options
// object; each accessor validates one named field and throws a JS TypeError or
// RangeError ("conv1dForward: Expected Float32Array for weight but received
// Float64Array") with a stable `code`, so bad calls never reach a kernel.
#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>

namespace ft::addon {

// Largest element count any argument may describe: far above real models,
// far below where size arithmetic could overflow.
constexpr uint64_t kMaxElements = uint64_t{1} << 40;

[[noreturn]] void throwTypeError(Napi::Env env, const std::string& message);
[[noreturn]] void throwRangeError(Napi::Env env, const std::string& message);

class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* function);
  // For a nested options object (an op of a graph, a batch).
  Args(Napi::Env env, const Napi::Value& value, const char* function);

  Napi::Env env() const { return env_; }

  // Typed arrays of exactly `length` elements.
  float* floats(const char* name, size_t length);
  float* floatsOrNull(const char* name, size_t length);  // undefined/null -> nullptr
  int32_t* ints(const char* name, size_t length);
  int32_t* intsOrNull(const char* name, size_t length);
  // An Int32Array of any length up to kMaxElements; its length goes to `length`.
  int32_t* intsAnyLength(const char* name, size_t& length);
  float* floatsAnyLength(const char* name, size_t& length);
  uint8_t* bytes(const char* name, size_t length);

  // A safe integer in [minimum, maximum].
  size_t size(const char* name, size_t minimum = 0, size_t maximum = kMaxElements);
  size_t sizeOr(const char* name, size_t fallback, size_t minimum = 0, size_t maximum = kMaxElements);
  int64_t integer(const char* name, int64_t minimum, int64_t maximum);
  int64_t integerOr(const char* name, int64_t fallback, int64_t minimum, int64_t maximum);
  // A finite number in [minimum, maximum].
  double number(const char* name, double minimum, double maximum);
  double numberOr(const char* name, double fallback, double minimum, double maximum);
  bool flag(const char* name, bool fallback);
  Napi::Array array(const char* name);

  // Product of sizes, with a RangeError naming `what` when it exceeds kMaxElements.
  size_t product(const char* what, std::initializer_list<size_t> factors);

  [[noreturn]] void typeError(const char* name, const char* expected, const Napi::Value& received);
  [[noreturn]] void rangeError(const std::string& message);

  Napi::Value get(const char* name) const { return options_.Get(name); }
  const char* function() const { return function_; }

 private:
  Napi::TypedArray typedArray(const char* name, napi_typedarray_type type, const char* typeName, size_t length);

  Napi::Env env_;
  Napi::Object options_;
  const char* function_;
};

// Short description of a JS value for error messages: "Float64Array", "NaN", "-1", "string".
std::string describe(const Napi::Value& value);

}  // namespace ft::addon
