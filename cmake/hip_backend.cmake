# HIP backend: the same cpp/gpu/*.cu sources compiled by hipcc (cpp/gpu/vendor.h maps the runtime names)
# into a static library, linked with libamdhip64 into the thin module _hip. hipcc is driven directly
# rather than through CMake's HIP language, which needs a ROCm layout that distribution packages
# (Debian's /usr/lib/x86_64-linux-gnu/cmake) do not match in the CMake versions people have.

if(GPUTRAIN_HIP STREQUAL "OFF")
  gputrain_backend_unavailable(hip GPUTRAIN_HIP "GPUTRAIN_HIP=OFF")
  return()
endif()

set(_rocm_hints)
foreach(var ROCM_PATH HIP_PATH)
  if(DEFINED ENV{${var}})
    list(APPEND _rocm_hints "$ENV{${var}}")
  endif()
endforeach()
list(APPEND _rocm_hints /opt/rocm)
find_program(GPUTRAIN_HIPCC hipcc HINTS ${_rocm_hints} PATH_SUFFIXES bin)
if(NOT GPUTRAIN_HIPCC)
  gputrain_backend_unavailable(hip GPUTRAIN_HIP "no hipcc on PATH, in ROCM_PATH, HIP_PATH or /opt/rocm/bin")
  return()
endif()
find_library(GPUTRAIN_AMDHIP64 amdhip64 HINTS ${_rocm_hints} PATH_SUFFIXES lib lib64)
if(NOT GPUTRAIN_AMDHIP64)
  gputrain_backend_unavailable(hip GPUTRAIN_HIP "hipcc found at ${GPUTRAIN_HIPCC} but no libamdhip64 (install libamdhip64-dev)")
  return()
endif()

execute_process(COMMAND "${GPUTRAIN_HIPCC}" --version OUTPUT_VARIABLE _hip_out ERROR_QUIET)
string(REGEX MATCH "HIP version: ([0-9.]+)" _ "${_hip_out}")
set(_hip_version "${CMAKE_MATCH_1}")

# hipcc leaves two empty directories in TMPDIR for every file it compiles; pointing TMPDIR into the
# build tree keeps a user's /tmp clean (the build tree is removed with the build).
set(_hip_tmp "${CMAKE_CURRENT_BINARY_DIR}/hip_tmp")
file(MAKE_DIRECTORY "${_hip_tmp}")
set(_hipcc "${CMAKE_COMMAND}" -E env "TMPDIR=${_hip_tmp}" "${GPUTRAIN_HIPCC}")

# One tiny kernel per candidate target tells whether the toolkit can compile for it.
set(_probe_dir "${CMAKE_CURRENT_BINARY_DIR}/hip_probe")
file(WRITE "${_probe_dir}/probe.hip"
  "#include <hip/hip_runtime.h>\n__global__ void probe_kernel(float* p) { p[threadIdx.x] = 1.0f; }\n")
function(gputrain_hip_supports arch out)
  execute_process(
    COMMAND ${_hipcc} -x hip --offload-arch=${arch} -c "${_probe_dir}/probe.hip" -o "${_probe_dir}/probe_${arch}.o"
    RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
  if(rc EQUAL 0)
    set(${out} TRUE PARENT_SCOPE)
  else()
    set(${out} FALSE PARENT_SCOPE)
  endif()
endfunction()

if(NOT DEFINED GPUTRAIN_HIP_ARCHITECTURES AND DEFINED ENV{GPUTRAIN_HIP_ARCHITECTURES})
  set(GPUTRAIN_HIP_ARCHITECTURES "$ENV{GPUTRAIN_HIP_ARCHITECTURES}")
endif()
if(GPUTRAIN_HIP_ARCHITECTURES)
  set(_hip_archs "${GPUTRAIN_HIP_ARCHITECTURES}")
  foreach(arch IN LISTS _hip_archs)
    gputrain_hip_supports(${arch} ok)
    if(NOT ok)
      gputrain_backend_unavailable(hip GPUTRAIN_HIP "hipcc ${_hip_version} cannot compile for ${arch}")
      return()
    endif()
  endforeach()
else()
  set(_hip_archs)
  foreach(arch gfx1030 gfx1031 gfx90a gfx942 gfx1100)
    gputrain_hip_supports(${arch} ok)
    if(ok)
      list(APPEND _hip_archs ${arch})
    endif()
  endforeach()
  if(NOT _hip_archs)
    gputrain_backend_unavailable(hip GPUTRAIN_HIP "hipcc at ${GPUTRAIN_HIPCC} cannot compile a test kernel")
    return()
  endif()
endif()

set(_hip_flags -x hip -std=c++17 -O3 -fPIC)
if(GPUTRAIN_GEMM_REFERENCE)
  list(APPEND _hip_flags -DGT_GEMM_REFERENCE=1)
endif()
foreach(arch IN LISTS _hip_archs)
  list(APPEND _hip_flags --offload-arch=${arch})
endforeach()
set(_hip_objects)
foreach(src IN LISTS GPUTRAIN_GPU_SOURCES)
  get_filename_component(name "${src}" NAME_WE)
  set(obj "${CMAKE_CURRENT_BINARY_DIR}/hip_objects/${name}.o")
  add_custom_command(
    OUTPUT "${obj}"
    COMMAND "${CMAKE_COMMAND}" -E make_directory "${CMAKE_CURRENT_BINARY_DIR}/hip_objects"
    COMMAND ${_hipcc} ${_hip_flags} "-I${CMAKE_CURRENT_SOURCE_DIR}/cpp"
            -MD -MF "${obj}.d" -c "${src}" -o "${obj}"
    DEPENDS "${src}"
    DEPFILE "${obj}.d"
    COMMENT "hipcc ${name}.cu"
    VERBATIM)
  list(APPEND _hip_objects "${obj}")
endforeach()
add_library(gputrain_hip_kernels STATIC ${_hip_objects})
set_source_files_properties(${_hip_objects} PROPERTIES EXTERNAL_OBJECT TRUE GENERATED TRUE)
set_target_properties(gputrain_hip_kernels PROPERTIES LINKER_LANGUAGE CXX)

pybind11_add_module(_hip cpp/bindings/gpu_module.cpp)
target_include_directories(_hip PRIVATE cpp)
target_compile_definitions(_hip PRIVATE GT_GPU_MODULE_NAME=_hip)
target_link_libraries(_hip PRIVATE gputrain_hip_kernels "${GPUTRAIN_AMDHIP64}")
get_filename_component(_amdhip_dir "${GPUTRAIN_AMDHIP64}" DIRECTORY)
set_target_properties(_hip PROPERTIES INSTALL_RPATH "${_amdhip_dir}")
install(TARGETS _hip LIBRARY DESTINATION gputrain)

string(REPLACE ";" " " _hip_flags_text "${_hip_flags}")
string(REPLACE ";" "," _hip_archs_text "${_hip_archs}")
gputrain_record_backend(hip TRUE "built"
  toolkit_version "${_hip_version}"
  compiler "${GPUTRAIN_HIPCC}"
  architectures "${_hip_archs_text}"
  flags "${_hip_flags_text}"
  gemm_reference "${GPUTRAIN_GEMM_REFERENCE}"
  runtime "${GPUTRAIN_AMDHIP64}")
message(STATUS "gputrain backend hip: built (HIP ${_hip_version}, architectures ${_hip_archs})")
