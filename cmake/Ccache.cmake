# ccache makes a clean rebuild of unchanged LibTorch-heavy files nearly free.
# The precompiled header needs pch_defines/time_macros sloppiness to be cacheable;
# ccache 4.7 (Debian 12) takes it from the environment only.
if(BATCHTUNE_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  find_program(BATCHTUNE_CCACHE_PROGRAM ccache)
  if(BATCHTUNE_CCACHE_PROGRAM)
    set(CMAKE_CXX_COMPILER_LAUNCHER
        /usr/bin/env CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
        ${BATCHTUNE_CCACHE_PROGRAM})
  endif()
endif()
