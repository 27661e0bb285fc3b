# CUDA backend: kernels from cpp/gpu/*.cu in a static library, linked with the static CUDA runtime into
# the thin module _cuda, so that it imports on machines with no driver and no toolkit.

function(gputrain_find_nvcc out)
  if(CMAKE_CUDA_COMPILER)
    set(${out} "${CMAKE_CUDA_COMPILER}" PARENT_SCOPE)
    return()
  endif()
  if(DEFINED ENV{CUDACXX} AND EXISTS "$ENV{CUDACXX}")
    set(${out} "$ENV{CUDACXX}" PARENT_SCOPE)
    return()
  endif()
  set(hints)
  foreach(var CUDA_PATH CUDA_HOME CUDA_ROOT)
    if(DEFINED ENV{${var}})
      list(APPEND hints "$ENV{${var}}/bin")
    endif()
  endforeach()
  find_program(GPUTRAIN_NVCC nvcc HINTS ${hints} PATHS /usr/local/cuda/bin /opt/cuda/bin)
  set(${out} "${GPUTRAIN_NVCC}" PARENT_SCOPE)
endfunction()

# Architectures when the user gives none: this machine's GPU if one is visible, else machine code for one
# architecture of each generation the toolkit supports (an 8.0 binary also runs on 8.6 and 8.9 cards)
# plus PTX of the newest, which the driver compiles for any later GPU. Fewer targets keep a build on a
# small machine within minutes; a build on the GPU's own machine gets `native`.
function(gputrain_default_cuda_architectures nvcc_version out)
  execute_process(COMMAND nvidia-smi -L RESULT_VARIABLE rc OUTPUT_VARIABLE gpus ERROR_QUIET)
  if(rc EQUAL 0 AND gpus MATCHES "GPU [0-9]")
    set(${out} native PARENT_SCOPE)
  elseif(nvcc_version VERSION_GREATER_EQUAL 13.0)
    set(${out} "75-real;80-real;90-real;90-virtual" PARENT_SCOPE)
  elseif(nvcc_version VERSION_GREATER_EQUAL 12.0)
    set(${out} "50-real;60-real;70-real;75-real;80-real;90-real;90-virtual" PARENT_SCOPE)
  elseif(nvcc_version VERSION_GREATER_EQUAL 11.8)
    set(${out} "37-real;50-real;60-real;70-real;75-real;80-real;90-real;90-virtual" PARENT_SCOPE)
  else()
    set(${out} "37-real;50-real;60-real;70-real;75-real;80-real;80-virtual" PARENT_SCOPE)
  endif()
endfunction()

if(GPUTRAIN_CUDA STREQUAL "OFF")
  gputrain_backend_unavailable(cuda GPUTRAIN_CUDA "GPUTRAIN_CUDA=OFF")
  return()
endif()

gputrain_find_nvcc(_nvcc)
if(NOT _nvcc)
  gputrain_backend_unavailable(cuda GPUTRAIN_CUDA
    "no nvcc on PATH, in CUDACXX, CUDA_PATH or /usr/local/cuda/bin")
  return()
endif()
execute_process(COMMAND "${_nvcc}" --version OUTPUT_VARIABLE _nvcc_out RESULT_VARIABLE _rc ERROR_QUIET)
string(REGEX MATCH "release ([0-9]+\\.[0-9]+)" _ "${_nvcc_out}")
set(_nvcc_version "${CMAKE_MATCH_1}")
if(NOT _rc EQUAL 0 OR NOT _nvcc_version)
  gputrain_backend_unavailable(cuda GPUTRAIN_CUDA "${_nvcc} --version failed")
  return()
endif()

set(CMAKE_CUDA_COMPILER "${_nvcc}")
include(CheckLanguage)
check_language(CUDA)
if(NOT CMAKE_CUDA_COMPILER)
  gputrain_backend_unavailable(cuda GPUTRAIN_CUDA
    "nvcc ${_nvcc_version} at ${_nvcc} cannot compile a test program with this host compiler")
  return()
endif()

# CUDAARCHS (CMake's own variable) is read only by a build tree's first configure; a changed one is
# applied here too, for the reason options.cmake gives.
gputrain_env_changed(CUDAARCHS _cudaarchs_changed)
if(DEFINED ENV{CUDAARCHS} AND _cudaarchs_changed)
  set(CMAKE_CUDA_ARCHITECTURES "$ENV{CUDAARCHS}" CACHE STRING "CUDA architectures" FORCE)
elseif(NOT DEFINED ENV{CUDAARCHS} AND (_cudaarchs_changed OR NOT CMAKE_CUDA_ARCHITECTURES))
  gputrain_default_cuda_architectures(${_nvcc_version} _archs)
  set(CMAKE_CUDA_ARCHITECTURES "${_archs}" CACHE STRING "CUDA architectures" FORCE)
endif()
enable_language(CUDA)
set(CMAKE_CUDA_STANDARD 17)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)
find_package(CUDAToolkit REQUIRED)

add_library(gputrain_cuda_kernels STATIC ${GPUTRAIN_GPU_SOURCES})
target_include_directories(gputrain_cuda_kernels PRIVATE cpp)
set_target_properties(gputrain_cuda_kernels PROPERTIES CUDA_RUNTIME_LIBRARY Static)
target_compile_options(gputrain_cuda_kernels PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-fPIC>)
if(GPUTRAIN_GEMM_REFERENCE)
  target_compile_definitions(gputrain_cuda_kernels PRIVATE GT_GEMM_REFERENCE=1)
endif()

pybind11_add_module(_cuda cpp/bindings/gpu_module.cpp)
target_include_directories(_cuda PRIVATE cpp)
target_compile_definitions(_cuda PRIVATE GT_GPU_MODULE_NAME=_cuda)
target_link_libraries(_cuda PRIVATE gputrain_cuda_kernels CUDA::cudart_static)
install(TARGETS _cuda LIBRARY DESTINATION gputrain)

# Lists are recorded comma-separated: a ';' would split the key/value pairs below.
string(REPLACE ";" "," _arch_text "${CMAKE_CUDA_ARCHITECTURES}")
if(_arch_text STREQUAL "native" AND CMAKE_CUDA_ARCHITECTURES_NATIVE)
  string(REPLACE ";" "," _native "${CMAKE_CUDA_ARCHITECTURES_NATIVE}")
  set(_arch_text "native (${_native})")
endif()
gputrain_record_backend(cuda TRUE "built"
  toolkit_version "${CUDAToolkit_VERSION}"
  compiler "${CMAKE_CUDA_COMPILER}"
  architectures "${_arch_text}"
  flags "${CMAKE_CUDA_FLAGS} ${CMAKE_CUDA_FLAGS_RELEASE}"
  gemm_reference "${GPUTRAIN_GEMM_REFERENCE}"
  runtime "static")
message(STATUS "gputrain backend cuda: built (CUDA ${CUDAToolkit_VERSION}, architectures ${_arch_text})")
