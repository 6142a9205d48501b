#include <stddef.h>
#include <stdint.h>

/// Runs libFuzzer on `test` with the command line given (LLVMFuzzerRunDriver): a fuzz target's main, as the
/// package manager names its entry point after the target rather than letting libFuzzer's own main stand.
int fuzz_driver(int argc, char **argv, int (*test)(const uint8_t *data, size_t size));
