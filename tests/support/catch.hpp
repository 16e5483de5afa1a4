// The one Catch2 include for every test, so the suites build with Catch2 2
// (Debian 12: the single header <catch2/catch.hpp>) and Catch2 3 (Debian 13:
// a compiled library, <catch2/catch_all.hpp>). tests/CMakeLists.txt says which
// one it found with BATCHTUNE_CATCH2_MAJOR.
//
// The tests are written against Catch2 2's names; on 3 this header brings
// them back: `Approx` (now Catch::Approx) and the substring matcher
// `Catch::Contains` (now Catch::Matchers::ContainsSubstring).
#pragma once

#if !defined(BATCHTUNE_CATCH2_MAJOR)
#error "BATCHTUNE_CATCH2_MAJOR is unset: link the test to batchtune_catch2 (tests/CMakeLists.txt)"
#endif

#if BATCHTUNE_CATCH2_MAJOR >= 3

#include <catch2/catch_all.hpp>

#include <string>

using Catch::Approx;

namespace Catch {
inline Matchers::StringContainsMatcher Contains(const std::string& text,
                                                CaseSensitive sensitivity = CaseSensitive::Yes) {
  return Matchers::ContainsSubstring(text, sensitivity);
}
}  // namespace Catch

#else

#include <catch2/catch.hpp>

#endif
