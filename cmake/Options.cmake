option(SB_BUILD_TESTS "Build the tests" ON)
option(SB_BUILD_BENCH "Build the benchmarks (needs Xapian)" ON)
option(SB_WERROR "Treat warnings as errors" ON)
option(SB_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
