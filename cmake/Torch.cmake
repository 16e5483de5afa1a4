# Finds LibTorch (Debian's 1.13 CPU build, or any newer one, CUDA builds
# included, given with CMAKE_PREFIX_PATH) and says whether it can drive CUDA.
find_package(Torch REQUIRED)
message(STATUS "LibTorch ${Torch_VERSION} at ${TORCH_INSTALL_PREFIX}")

set(BATCHTUNE_WITH_CUDA OFF)
if(TORCH_CUDA_LIBRARIES OR TARGET torch_cuda OR TARGET c10_cuda)
  set(BATCHTUNE_WITH_CUDA ON)
endif()
message(STATUS "batchtune CUDA support: ${BATCHTUNE_WITH_CUDA}")

# LibTorch's flags (the libstdc++ ABI above all) apply to every target, the
# torch-free ones too, or std::string would differ across library boundaries.
separate_arguments(_torch_flags UNIX_COMMAND "${TORCH_CXX_FLAGS}")
add_compile_options(${_torch_flags})

# One interface target: LibTorch, its flags, and whether CUDA code is compiled.
add_library(batchtune_torch INTERFACE)
target_link_libraries(batchtune_torch INTERFACE ${TORCH_LIBRARIES})
if(BATCHTUNE_WITH_CUDA)
  target_compile_definitions(batchtune_torch INTERFACE BATCHTUNE_WITH_CUDA=1)
  if(TARGET c10_cuda)
    target_link_libraries(batchtune_torch INTERFACE c10_cuda)
  endif()
endif()

# One precompiled <torch/torch.h>, built once and reused by every torch-heavy
# target (they share flags: batchtune_torch + batchtune_warnings).
add_library(batchtune_torch_pch OBJECT ${PROJECT_SOURCE_DIR}/cmake/torch_pch.cpp)
target_link_libraries(batchtune_torch_pch PRIVATE batchtune_torch batchtune_warnings)
if(BATCHTUNE_PCH)
  target_precompile_headers(batchtune_torch_pch PRIVATE <torch/torch.h>)
endif()

function(batchtune_use_torch_pch target)
  if(BATCHTUNE_PCH)
    target_precompile_headers(${target} REUSE_FROM batchtune_torch_pch)
  endif()
endfunction()
