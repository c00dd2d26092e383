# BPF objects and skeletons: clang -target bpf (CO-RE) -> bpftool gen skeleton.
find_program(CLANG_BPF NAMES clang-14 clang REQUIRED)
find_program(BPFTOOL bpftool PATHS /usr/sbin /sbin REQUIRED)

set(INFRARED_BPF_OUT ${CMAKE_BINARY_DIR}/bpf)
file(MAKE_DIRECTORY ${INFRARED_BPF_OUT})

if(INFRARED_VMLINUX_H)
  set(VMLINUX_H ${INFRARED_VMLINUX_H})
else()
  set(VMLINUX_H ${INFRARED_BPF_OUT}/vmlinux.h)
  add_custom_command(
    OUTPUT ${VMLINUX_H}
    COMMAND ${BPFTOOL} btf dump file ${INFRARED_BTF} format c > ${VMLINUX_H}.tmp
    COMMAND ${CMAKE_COMMAND} -E rename ${VMLINUX_H}.tmp ${VMLINUX_H}
    DEPENDS ${INFRARED_BTF}
    COMMENT "Generating vmlinux.h from ${INFRARED_BTF}")
endif()
get_filename_component(VMLINUX_DIR ${VMLINUX_H} DIRECTORY)
# One target makes vmlinux.h: every skeleton depends on it, so that parallel
# builds do not generate it twice at once.
add_custom_target(infrared_vmlinux_h DEPENDS ${VMLINUX_H})

if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64")
  set(BPF_ARCH x86)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64")
  set(BPF_ARCH arm64)
else()
  set(BPF_ARCH ${CMAKE_SYSTEM_PROCESSOR})
endif()

# infrared_bpf_skeleton(name source): builds ${name}.bpf.o and ${name}.skel.h,
# and a target ${name}_skel to depend on.
function(infrared_bpf_skeleton name source)
  set(obj ${INFRARED_BPF_OUT}/${name}.bpf.o)
  set(skel ${INFRARED_BPF_OUT}/${name}.skel.h)
  file(GLOB bpf_headers CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/bpf/lib/*.h
       ${CMAKE_SOURCE_DIR}/include/infrared/abi/*.h)
  set(werror "")
  if(INFRARED_WERROR)
    set(werror -Werror)
  endif()
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${CLANG_BPF} -g -O2 -target bpf -D__TARGET_ARCH_${BPF_ARCH} -Wall ${werror}
            -I${VMLINUX_DIR} -I${CMAKE_SOURCE_DIR}/include -I${CMAKE_SOURCE_DIR}/bpf
            -c ${CMAKE_SOURCE_DIR}/${source} -o ${obj}
    DEPENDS ${CMAKE_SOURCE_DIR}/${source} ${VMLINUX_H} ${bpf_headers}
    COMMENT "BPF ${source}")
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${BPFTOOL} gen skeleton ${obj} name ${name}_bpf > ${skel}.tmp
    COMMAND ${CMAKE_COMMAND} -E rename ${skel}.tmp ${skel}
    DEPENDS ${obj}
    COMMENT "Skeleton ${name}.skel.h")
  add_custom_target(${name}_skel DEPENDS ${skel})
  add_dependencies(${name}_skel infrared_vmlinux_h)
endfunction()
