// Anchor for the shared LibTorch precompiled header (see tuner/CMakeLists.txt).
