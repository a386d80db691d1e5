#include "src/io/h5_attributes.h"

#include <stdexcept>

namespace refinery::h5 {

namespace {
H5::StrType vlen_utf8() {
  H5::StrType type(H5::PredType::C_S1, H5T_VARIABLE);
  type.setCset(H5T_CSET_UTF8);
  return type;
}
}  // namespace

void write_string(H5::H5Object& obj, const std::string& name, const std::string& value) {
  H5::StrType type = vlen_utf8();
  H5::Attribute attr = obj.createAttribute(name, type, H5::DataSpace(H5S_SCALAR));
  const char* p = value.c_str();
  attr.write(type, &p);
}

void write_strings(H5::H5Object& obj, const std::string& name,
                   const std::vector<std::string>& values) {
  H5::StrType type = vlen_utf8();
  hsize_t n = values.size();
  H5::Attribute attr = obj.createAttribute(name, type, H5::DataSpace(1, &n));
  std::vector<const char*> ptrs;
  for (const auto& v : values) ptrs.push_back(v.c_str());
  if (n > 0) attr.write(type, ptrs.data());
}

void write_double(H5::H5Object& obj, const std::string& name, double value) {
  H5::Attribute attr =
      obj.createAttribute(name, H5::PredType::NATIVE_DOUBLE, H5::DataSpace(H5S_SCALAR));
  attr.write(H5::PredType::NATIVE_DOUBLE, &value);
}

void write_uint64(H5::H5Object& obj, const std::string& name, std::uint64_t value) {
  H5::Attribute attr =
      obj.createAttribute(name, H5::PredType::NATIVE_UINT64, H5::DataSpace(H5S_SCALAR));
  attr.write(H5::PredType::NATIVE_UINT64, &value);
}


std::optional<std::vector<std::string>> read_strings(const H5::H5Object& obj,
                                                     const std::string& name) {
  if (!obj.attrExists(name)) return std::nullopt;
  H5::Attribute attr = obj.openAttribute(name);
  if (attr.getTypeClass() != H5T_STRING) throw std::runtime_error("attribute is not a string array");
  H5::DataSpace space = attr.getSpace();
  hssize_t n = space.getSimpleExtentNpoints();
  std::vector<std::string> out;
  if (n == 0) return out;
  H5::StrType file_type = attr.getStrType();
  if (file_type.isVariableStr()) {
    H5::StrType mem(H5::PredType::C_S1, H5T_VARIABLE);
    mem.setCset(file_type.getCset());  // ASCII or UTF-8, as written
    std::vector<char*> buf(n, nullptr);
    try {
      attr.read(mem, buf.data());
    } catch (const H5::Exception&) {
      // A read that fails part way has allocated some of the strings.
      H5Dvlen_reclaim(mem.getId(), space.getId(), H5P_DEFAULT, buf.data());
      throw;
    }
    for (char* s : buf) out.emplace_back(s ? s : "");
    H5Dvlen_reclaim(mem.getId(), space.getId(), H5P_DEFAULT, buf.data());
  } else {
    size_t len = file_type.getSize();
    std::vector<char> buf(len * n);
    attr.read(file_type, buf.data());
    for (hssize_t i = 0; i < n; ++i) {
      std::string s(buf.data() + i * len, len);
      s.erase(s.find_last_not_of(std::string("\0 ", 2)) + 1);
      out.push_back(s);
    }
  }
  return out;
}

std::optional<std::string> read_string(const H5::H5Object& obj, const std::string& name) {
  // Through read_strings: H5::Attribute::read(type, std::string&) takes
  // strlen of a variable-length string without checking it for null (a
  // damaged file's crash, found by fuzzing).
  const auto all = read_strings(obj, name);
  if (!all) return std::nullopt;
  if (all->size() != 1) throw std::runtime_error("attribute is not a single string");
  return all->front();
}

std::optional<double> read_double(const H5::H5Object& obj, const std::string& name) {
  if (!obj.attrExists(name)) return std::nullopt;
  H5::Attribute attr = obj.openAttribute(name);
  if (attr.getTypeClass() != H5T_FLOAT && attr.getTypeClass() != H5T_INTEGER)
    throw std::runtime_error("attribute is not numeric");
  double v = 0;
  attr.read(H5::PredType::NATIVE_DOUBLE, &v);
  return v;
}

std::optional<std::uint64_t> read_uint64(const H5::H5Object& obj, const std::string& name) {
  if (!obj.attrExists(name)) return std::nullopt;
  H5::Attribute attr = obj.openAttribute(name);
  if (attr.getTypeClass() != H5T_INTEGER) throw std::runtime_error("attribute is not an integer");
  std::uint64_t v = 0;
  attr.read(H5::PredType::NATIVE_UINT64, &v);
  return v;
}

}  // namespace refinery::h5
