# bpf_skeleton(NAME SOURCE): compiles SOURCE with clang for the BPF target
# (with BTF), then embeds the object into a bpftool skeleton header
# <NAME>.skel.h, exposed through the INTERFACE target NAME_skel.
find_program(BPF_CLANG clang REQUIRED)
find_program(BPFTOOL bpftool PATHS /usr/sbin /sbin REQUIRED)

execute_process(COMMAND uname -m OUTPUT_VARIABLE BPF_HOST_ARCH OUTPUT_STRIP_TRAILING_WHITESPACE)
set(BPF_ARCH_INCLUDE /usr/include/${BPF_HOST_ARCH}-linux-gnu)
if(BPF_HOST_ARCH STREQUAL "x86_64")
  set(BPF_TARGET_ARCH x86)
elseif(BPF_HOST_ARCH STREQUAL "aarch64")
  set(BPF_TARGET_ARCH arm64)
else()
  set(BPF_TARGET_ARCH ${BPF_HOST_ARCH})
endif()

function(bpf_skeleton name source)
  set(obj ${CMAKE_CURRENT_BINARY_DIR}/${name}.bpf.o)
  set(skel ${CMAKE_CURRENT_BINARY_DIR}/${name}.skel.h)
  file(GLOB_RECURSE abi_headers ${CMAKE_SOURCE_DIR}/bpf/include/*.h ${CMAKE_CURRENT_SOURCE_DIR}/*.h)
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${BPF_CLANG} -g -O2 -target bpf -D__TARGET_ARCH_${BPF_TARGET_ARCH}
            -Wall -Werror -I${BPF_ARCH_INCLUDE} -I${CMAKE_SOURCE_DIR}/bpf/include
            -c ${source} -o ${obj}
    DEPENDS ${source} ${abi_headers}
    COMMENT "BPF ${name}.bpf.o"
    VERBATIM)
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${BPFTOOL} gen skeleton ${obj} name ${name} > ${skel}
    DEPENDS ${obj}
    COMMENT "BPF skeleton ${name}.skel.h"
    VERBATIM)
  add_custom_target(${name}_skel_gen DEPENDS ${skel})
  add_library(${name}_skel INTERFACE)
  add_dependencies(${name}_skel ${name}_skel_gen)
  target_include_directories(${name}_skel INTERFACE ${CMAKE_CURRENT_BINARY_DIR})
  target_link_libraries(${name}_skel INTERFACE PkgConfig::LIBBPF)
endfunction()
