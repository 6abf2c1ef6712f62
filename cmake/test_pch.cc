// aits_test_pch's only source (cmake/aits.cmake): empty, the target carries the tests' PCH.
