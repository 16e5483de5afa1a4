// The one Catch2 include for every test, so the suites build with Catch2 2
// (Debian 12: the single header <catch2/catch.hpp>) and Catch2 3 (Debian 13:
// a compiled library, <catch2/catch_all.hpp>). tests/CMakeLists.txt says which
// one it found with BATCHTUNE_CATCH2_MAJOR.
//
// The tests are written against Catch2 2's names; on 3 this header brings
// them back: `Approx` (now Catch::Approx), the substring matcher
// `Catch::Contains` (now Catch::Matchers::ContainsSubstring) and
// Catch::StartsWith, EndsWith and Equals (now in Catch::Matchers).
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
// Catch2 2 had these string matchers in namespace Catch as well.
using Matchers::EndsWith;
using Matchers::Equals;
using Matchers::StartsWith;
}  // namespace Catch

#else

#include <catch2/catch.hpp>

#endif
