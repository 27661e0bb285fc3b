# Build options that can be given as -D (or -Ccmake.define.X=... through pip) or as environment variables.
# pip keeps its build directory (build/{wheel_tag}) between installs, so a cached value outlives the
# environment it came from; a variable that is set, changed or unset since the last configure therefore
# replaces the cached value (an unchanged one leaves a -D given earlier alone).

# Whether the environment variable NAME differs from what the last configure of this build tree saw.
function(gputrain_env_changed name out)
  set(now "<unset>")
  if(DEFINED ENV{${name}})
    set(now "$ENV{${name}}")
  endif()
  set(changed FALSE)
  if(DEFINED CACHE{_GPUTRAIN_ENV_${name}} AND NOT "${now}" STREQUAL "$CACHE{_GPUTRAIN_ENV_${name}}")
    set(changed TRUE)
  endif()
  set(_GPUTRAIN_ENV_${name} "${now}" CACHE INTERNAL "${name} at the last configure")
  set(${out} ${changed} PARENT_SCOPE)
endfunction()

# Cache entry NAME of TYPE: the environment variable of the same name, else DEFAULT.
function(gputrain_cached_option name default type doc)
  if(DEFINED ENV{${name}})
    set(default "$ENV{${name}}")
  endif()
  gputrain_env_changed(${name} changed)
  if(changed)
    set(${name} "${default}" CACHE ${type} "${doc}" FORCE)
  else()
    set(${name} "${default}" CACHE ${type} "${doc}")
  endif()
endfunction()

# AUTO|ON|OFF option.
function(gputrain_tristate_option name doc)
  gputrain_cached_option(${name} AUTO STRING "${doc}")
  set_property(CACHE ${name} PROPERTY STRINGS AUTO ON OFF)
  string(TOUPPER "${${name}}" value)
  if(value STREQUAL "TRUE" OR value STREQUAL "1" OR value STREQUAL "YES")
    set(value ON)
  elseif(value STREQUAL "FALSE" OR value STREQUAL "0" OR value STREQUAL "NO")
    set(value OFF)
  endif()
  if(NOT value MATCHES "^(AUTO|ON|OFF)$")
    message(FATAL_ERROR "${name}=${${name}}: expected AUTO, ON or OFF")
  endif()
  set(${name} "${value}" PARENT_SCOPE)
endfunction()

function(gputrain_bool_option name default doc)
  gputrain_cached_option(${name} ${default} BOOL "${doc}")
endfunction()

# Report a GPU backend that is not built: fatal when it was asked for with ON.
function(gputrain_backend_unavailable backend option reason)
  if(${option} STREQUAL "ON")
    message(FATAL_ERROR "gputrain backend ${backend}: ${option}=ON but ${reason}")
  endif()
  message(STATUS "gputrain backend ${backend}: not built (${reason})")
  gputrain_record_backend(${backend} FALSE "${reason}")
endfunction()
