# The layers the build enforces (docs/design.md section 9): what each folder
# may include, and that the core names no stage's command. Run at configure
# time (CMakeLists.txt) and as the ctest entry `layers`
# (cmake -DREFINERY_SOURCE_DIR=... -P cmake/check_layers.cmake).
#   src/     the core: src/ only
#   models/  networks: src/, models/
#   data/    simulators and event sources: src/, data/
#   train/   training: src/, models/, data/, train/
#   infer/   inference: src/, models/, data/, infer/
#   app/     the executable: every stage (it registers their commands)
if(NOT REFINERY_SOURCE_DIR)
  set(REFINERY_SOURCE_DIR ${CMAKE_SOURCE_DIR})
endif()
set(_allowed_src "src")
set(_allowed_models "src|models")
set(_allowed_data "src|data")
set(_allowed_train "src|models|data|train")
set(_allowed_infer "src|models|data|infer")
set(_violations "")
foreach(_layer src models data train infer)
  file(GLOB_RECURSE _files ${REFINERY_SOURCE_DIR}/${_layer}/*.cpp ${REFINERY_SOURCE_DIR}/${_layer}/*.h)
  foreach(_file ${_files})
    file(STRINGS ${_file} _includes REGEX "^#include \"(src|models|data|train|infer|app)/")
    foreach(_line ${_includes})
      string(REGEX REPLACE "^#include \"([a-z]+)/.*" "\\1" _target "${_line}")
      if(NOT _target MATCHES "^(${_allowed_${_layer}})$")
        file(RELATIVE_PATH _rel ${REFINERY_SOURCE_DIR} ${_file})
        string(APPEND _violations "\n  ${_rel}: ${_line} (${_layer}/ may include ${_allowed_${_layer}})")
      endif()
    endforeach()
    if(_layer STREQUAL "src")
      # A stage's command declared in the core: stages register their own.
      file(STRINGS ${_file} _declared REGEX "^int run_[a-z_]+\\(int argc, char\\*\\* argv\\);")
      foreach(_line ${_declared})
        file(RELATIVE_PATH _rel ${REFINERY_SOURCE_DIR} ${_file})
        string(APPEND _violations "\n  ${_rel}: ${_line} (a stage's command named by the core; register it in the stage)")
      endforeach()
    endif()
  endforeach()
endforeach()
if(_violations)
  message(FATAL_ERROR "refinery: layer violations:${_violations}")
endif()
