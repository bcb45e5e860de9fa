#include "addon/args.h"

#include <cmath>
#include <sstream>

namespace ft::addon {

namespace {
constexpr double kMaxSafeInteger = 9007199254740991.0;

[[noreturn]] void throwWithCode(Napi::Error error, const char* code) {
  error.Value().Set("code", Napi::String::New(error.Env(), code));
  throw error;
}

const char* typedArrayName(napi_typedarray_type type) {
  switch (type) {
    case napi_int8_array: return "Int8Array";
    case napi_uint8_array: return "Uint8Array";
    case napi_uint8_clamped_array: return "Uint8ClampedArray";
    case napi_int16_array: return "Int16Array";
    case napi_uint16_array: return "Uint16Array";
    case napi_int32_array: return "Int32Array";
    case napi_uint32_array: return "Uint32Array";
    case napi_float32_array: return "Float32Array";
    case napi_float64_array: return "Float64Array";
    case napi_bigint64_array: return "BigInt64Array";
    case napi_biguint64_array: return "BigUint64Array";
    default: return "TypedArray";
  }
}
}  // namespace

void throwTypeError(Napi::Env env, const std::string& message) {
  throwWithCode(Napi::TypeError::New(env, message), "ERR_FINETUNE_ARG_TYPE");
}

void throwRangeError(Napi::Env env, const std::string& message) {
  throwWithCode(Napi::RangeError::New(env, message), "ERR_FINETUNE_ARG_RANGE");
}

std::string describe(const Napi::Value& value) {
  if (value.IsUndefined()) return "undefined";
  if (value.IsNull()) return "null";
  if (value.IsNumber()) {
    double d = value.As<Napi::Number>().DoubleValue();
    if (std::isnan(d)) return "NaN";
    std::ostringstream out;
    out.precision(17);
    out << d;
    return out.str();
  }
  if (value.IsBoolean()) return value.As<Napi::Boolean>().Value() ? "true" : "false";
  if (value.IsString()) return "string";
  if (value.IsBigInt()) return "bigint";
  if (value.IsTypedArray()) return typedArrayName(value.As<Napi::TypedArray>().TypedArrayType());
  if (value.IsArrayBuffer()) return "ArrayBuffer";
  if (value.IsArray()) return "Array";
  if (value.IsFunction()) return "function";
  return "object";
}

Args::Args(const Napi::CallbackInfo& info, const char* function)
    : env_(info.Env()), function_(function) {
  if (info.Length() < 1 || !info[0].IsObject() || info[0].IsArray() || info[0].IsTypedArray()) {
    throwTypeError(env_, std::string(function) + ": Expected an options object but received " +
                             describe(info.Length() < 1 ? env_.Undefined() : info[0]));
  }
  options_ = info[0].As<Napi::Object>();
}

Args::Args(Napi::Env env, const Napi::Value& value, const char* function) : env_(env), function_(function) {
  if (!value.IsObject() || value.IsArray() || value.IsTypedArray()) {
    throwTypeError(env_, std::string(function) + ": Expected an object but received " + describe(value));
  }
  options_ = value.As<Napi::Object>();
}

void Args::typeError(const char* name, const char* expected, const Napi::Value& received) {
  throwTypeError(env_, std::string(function_) + ": Expected " + expected + " for " + name + " but received " +
                           describe(received));
}

void Args::rangeError(const std::string& message) { throwRangeError(env_, std::string(function_) + ": " + message); }

Napi::TypedArray Args::typedArray(const char* name, napi_typedarray_type type, const char* typeName, size_t length) {
  Napi::Value v = options_.Get(name);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type) typeError(name, typeName, v);
  Napi::TypedArray array = v.As<Napi::TypedArray>();
  if (array.ArrayBuffer().ByteLength() == 0 && length > 0) {
    rangeError(std::string("Expected ") + std::to_string(length) + " elements in " + name +
               " but its buffer is empty or detached");
  }
  if (array.ElementLength() != length) {
    rangeError(std::string("Expected ") + std::to_string(length) + " elements in " + name + " but received " +
               std::to_string(array.ElementLength()));
  }
  return array;
}

float* Args::floats(const char* name, size_t length) {
  return typedArray(name, napi_float32_array, "Float32Array", length).As<Napi::Float32Array>().Data();
}

float* Args::floatsOrNull(const char* name, size_t length) {
  Napi::Value v = options_.Get(name);
  if (v.IsUndefined() || v.IsNull()) return nullptr;
  return floats(name, length);
}

int32_t* Args::ints(const char* name, size_t length) {
  return typedArray(name, napi_int32_array, "Int32Array", length).As<Napi::Int32Array>().Data();
}

int32_t* Args::intsOrNull(const char* name, size_t length) {
  Napi::Value v = options_.Get(name);
  if (v.IsUndefined() || v.IsNull()) return nullptr;
  return ints(name, length);
}

int32_t* Args::intsAnyLength(const char* name, size_t& length) {
  Napi::Value v = options_.Get(name);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    typeError(name, "Int32Array", v);
  }
  Napi::Int32Array array = v.As<Napi::Int32Array>();
  length = array.ElementLength();
  return array.Data();
}

float* Args::floatsAnyLength(const char* name, size_t& length) {
  Napi::Value v = options_.Get(name);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    typeError(name, "Float32Array", v);
  }
  Napi::Float32Array array = v.As<Napi::Float32Array>();
  length = array.ElementLength();
  return array.Data();
}

uint8_t* Args::bytes(const char* name, size_t length) {
  return typedArray(name, napi_uint8_array, "Uint8Array", length).As<Napi::Uint8Array>().Data();
}

int64_t Args::integer(const char* name, int64_t minimum, int64_t maximum) {
  Napi::Value v = options_.Get(name);
  if (!v.IsNumber()) typeError(name, "an integer", v);
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::trunc(d) != d || std::fabs(d) > kMaxSafeInteger) typeError(name, "an integer", v);
  if (d < static_cast<double>(minimum) || d > static_cast<double>(maximum)) {
    rangeError(std::string("Expected ") + name + " in [" + std::to_string(minimum) + ", " + std::to_string(maximum) +
               "] but received " + describe(v));
  }
  return static_cast<int64_t>(d);
}

int64_t Args::integerOr(const char* name, int64_t fallback, int64_t minimum, int64_t maximum) {
  Napi::Value v = options_.Get(name);
  return v.IsUndefined() ? fallback : integer(name, minimum, maximum);
}

size_t Args::size(const char* name, size_t minimum, size_t maximum) {
  return static_cast<size_t>(integer(name, static_cast<int64_t>(minimum), static_cast<int64_t>(maximum)));
}

size_t Args::sizeOr(const char* name, size_t fallback, size_t minimum, size_t maximum) {
  Napi::Value v = options_.Get(name);
  return v.IsUndefined() ? fallback : size(name, minimum, maximum);
}

double Args::number(const char* name, double minimum, double maximum) {
  Napi::Value v = options_.Get(name);
  if (!v.IsNumber()) typeError(name, "a number", v);
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) typeError(name, "a finite number", v);
  if (d < minimum || d > maximum) {
    std::ostringstream out;
    out << "Expected " << name << " in [" << minimum << ", " << maximum << "] but received " << describe(v);
    rangeError(out.str());
  }
  return d;
}

double Args::numberOr(const char* name, double fallback, double minimum, double maximum) {
  Napi::Value v = options_.Get(name);
  return v.IsUndefined() ? fallback : number(name, minimum, maximum);
}

bool Args::flag(const char* name, bool fallback) {
  Napi::Value v = options_.Get(name);
  if (v.IsUndefined()) return fallback;
  if (!v.IsBoolean()) typeError(name, "a boolean", v);
  return v.As<Napi::Boolean>().Value();
}

Napi::Array Args::array(const char* name) {
  Napi::Value v = options_.Get(name);
  if (!v.IsArray()) typeError(name, "an Array", v);
  return v.As<Napi::Array>();
}

size_t Args::product(const char* what, std::initializer_list<size_t> factors) {
  uint64_t total = 1;
  for (size_t f : factors) {
    if (f != 0 && total > kMaxElements / f) {
      rangeError(std::string("the size of ") + what + " exceeds " + std::to_string(kMaxElements) + " elements");
    }
    total *= f;
  }
  if (total > kMaxElements) {
    rangeError(std::string("the size of ") + what + " exceeds " + std::to_string(kMaxElements) + " elements");
  }
  return static_cast<size_t>(total);
}

}  // namespace ft::addon
