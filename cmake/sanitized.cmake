# infrared_sanitized_twin(twin FROM target SANITIZE flags... [OPTIONS options...]
#                         [LINK_AS_IS libs...])
#
# Builds `twin`, an executable made of the same sources as `target` and of every
# infrared_* static library it links (transitively), all compiled again with the
# sanitizer flags: linking the normal static libraries would leave most of the agent
# uninstrumented. Sources are read from the targets, so a file added to a library is
# in the twin too. Libraries in LINK_AS_IS (generated code) and everything not named
# infrared_* (yaml-cpp, libbpf, ...) are linked as they are. The twin has the same
# include directories, definitions, options and target dependencies (the BPF
# skeletons) as what it was made from, plus the SANITIZE flags (compiling and
# linking) and OPTIONS (compiling).
function(infrared_sanitized_twin twin)
  cmake_parse_arguments(TWIN "" "FROM" "SANITIZE;OPTIONS;LINK_AS_IS" ${ARGN})
  set(pending ${TWIN_FROM})
  set(visited)
  set(sources)
  set(links)
  set(INCLUDE_DIRECTORIES)
  set(COMPILE_DEFINITIONS)
  set(COMPILE_OPTIONS)
  set(MANUALLY_ADDED_DEPENDENCIES)
  while(pending)
    list(POP_FRONT pending name)
    if(name IN_LIST visited)
      continue()
    endif()
    list(APPEND visited ${name})
    get_target_property(source_dir ${name} SOURCE_DIR)
    get_target_property(target_sources ${name} SOURCES)
    foreach(source ${target_sources})
      if(NOT IS_ABSOLUTE ${source})
        set(source ${source_dir}/${source})
      endif()
      list(APPEND sources ${source})
    endforeach()
    # What a library gives those who link it (INTERFACE_) reached `target` by
    # linking; the twin, which does not link it, takes it here.
    foreach(property INCLUDE_DIRECTORIES INTERFACE_INCLUDE_DIRECTORIES COMPILE_DEFINITIONS
                     INTERFACE_COMPILE_DEFINITIONS COMPILE_OPTIONS INTERFACE_COMPILE_OPTIONS
                     MANUALLY_ADDED_DEPENDENCIES)
      get_target_property(values ${name} ${property})
      string(REGEX REPLACE "^INTERFACE_" "" collected ${property})
      if(values)
        list(APPEND ${collected} ${values})
      endif()
    endforeach()
    get_target_property(target_links ${name} LINK_LIBRARIES)
    foreach(link ${target_links})
      if(TARGET ${link} AND link MATCHES "^infrared_" AND NOT link IN_LIST TWIN_LINK_AS_IS)
        list(APPEND pending ${link})
      else()
        list(APPEND links ${link})
      endif()
    endforeach()
  endwhile()
  foreach(collected sources links INCLUDE_DIRECTORIES COMPILE_DEFINITIONS COMPILE_OPTIONS
                    MANUALLY_ADDED_DEPENDENCIES)
    list(REMOVE_DUPLICATES ${collected})
  endforeach()

  add_executable(${twin} ${sources})
  target_include_directories(${twin} PRIVATE ${INCLUDE_DIRECTORIES})
  target_compile_definitions(${twin} PRIVATE ${COMPILE_DEFINITIONS})
  target_compile_options(${twin} PRIVATE ${COMPILE_OPTIONS} ${TWIN_SANITIZE} ${TWIN_OPTIONS})
  target_link_options(${twin} PRIVATE ${TWIN_SANITIZE})
  target_link_libraries(${twin} PRIVATE ${links})
  if(MANUALLY_ADDED_DEPENDENCIES)
    add_dependencies(${twin} ${MANUALLY_ADDED_DEPENDENCIES})
  endif()
endfunction()
