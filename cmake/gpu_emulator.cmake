# Optional test tool: the GPU kernels of cpp/gpu compiled as plain C++ against gpu/emulator.h into the
# module _gpuemu, whose table the tests register as the "cuda" backend (GPUTRAIN_TEST_GPU_EMULATOR=1)
# to run every GPU kernel on a machine without a GPU. Off by default; not a backend users get.
gputrain_bool_option(GPUTRAIN_GPU_EMULATOR OFF "Build gputrain._gpuemu, the CPU emulation of the GPU kernels (tests only)")
if(NOT GPUTRAIN_GPU_EMULATOR)
  return()
endif()

set(_emu_sources "${CMAKE_CURRENT_SOURCE_DIR}/cpp/gpu/emulator.cpp"
                 "${CMAKE_CURRENT_SOURCE_DIR}/cpp/gpu/emulator_streams.cpp")
foreach(src IN LISTS GPUTRAIN_GPU_SOURCES)
  # A .cpp that includes the .cu: the .cu files keep their CUDA language for the real backends.
  get_filename_component(name "${src}" NAME_WE)
  set(wrapper "${CMAKE_CURRENT_BINARY_DIR}/gpu_emulated/${name}.cpp")
  file(WRITE "${wrapper}.in" "#include \"${src}\"\n")
  configure_file("${wrapper}.in" "${wrapper}" COPYONLY)
  list(APPEND _emu_sources "${wrapper}")
endforeach()

# The emulated kernels compile without pybind11, as the real backends' do; only the module file sees it.
add_library(gputrain_gpuemu_kernels STATIC ${_emu_sources})
target_include_directories(gputrain_gpuemu_kernels PUBLIC cpp)
target_compile_definitions(gputrain_gpuemu_kernels PUBLIC GT_GPU_EMULATION=1)
target_compile_options(gputrain_gpuemu_kernels PRIVATE -O1)  # the emulator is for correctness; quick to build
set_target_properties(gputrain_gpuemu_kernels PROPERTIES CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON
                                                  INTERPROCEDURAL_OPTIMIZATION ${GPUTRAIN_IPO})

pybind11_add_module(_gpuemu cpp/bindings/gpu_module.cpp)
target_compile_definitions(_gpuemu PRIVATE GT_GPU_MODULE_NAME=_gpuemu)
target_link_libraries(_gpuemu PRIVATE gputrain_gpuemu_kernels)
install(TARGETS _gpuemu LIBRARY DESTINATION gputrain)
message(STATUS "gputrain GPU emulator: built (gputrain._gpuemu, for tests)")
