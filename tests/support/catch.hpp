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

#include <iostream>

// A test that cannot run here (a CUDA test without a device) says so and
// counts as skipped, never as a silent pass: it prints a marker that
// tests/CMakeLists.txt gives CTest as SKIP_REGULAR_EXPRESSION, and on
// Catch2 3 it is also Catch's own SKIP (exit code 4, "skipped" in its
// summary). Catch2 2 has no skip: the marker and an early return.
#define BATCHTUNE_SKIP_MARKER "[batchtune: test skipped] "
#if BATCHTUNE_CATCH2_MAJOR >= 3
#define BATCHTUNE_SKIP(reason)                                       \
  do {                                                               \
    std::cout << BATCHTUNE_SKIP_MARKER << (reason) << std::endl;     \
    SKIP(reason);                                                    \
  } while (false)
#else
#define BATCHTUNE_SKIP(reason)                                       \
  do {                                                               \
    std::cout << BATCHTUNE_SKIP_MARKER << (reason) << std::endl;     \
    return;                                                          \
  } while (false)
#endif
