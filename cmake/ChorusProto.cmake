# chorus_proto_library(<target> PROTOS <files relative to proto/>)
# Generates C++ messages and gRPC stubs with protoc and gRPC's plugin (both from Debian) into the
# build tree, keeping the import paths (chorus/v1/rooms.proto -> chorus/v1/rooms.pb.h).
function(chorus_proto_library target)
  cmake_parse_arguments(ARG "" "" "PROTOS" ${ARGN})
  set(proto_root "${PROJECT_SOURCE_DIR}/proto")
  set(out_dir "${CMAKE_CURRENT_BINARY_DIR}/gen")
  file(MAKE_DIRECTORY "${out_dir}")
  set(sources)
  foreach(proto IN LISTS ARG_PROTOS)
    string(REGEX REPLACE "\\.proto$" "" stem "${proto}")
    set(generated
      "${out_dir}/${stem}.pb.cc" "${out_dir}/${stem}.pb.h"
      "${out_dir}/${stem}.grpc.pb.cc" "${out_dir}/${stem}.grpc.pb.h")
    add_custom_command(
      OUTPUT ${generated}
      COMMAND protobuf::protoc
        --proto_path=${proto_root}
        --cpp_out=${out_dir}
        --grpc_out=${out_dir}
        --plugin=protoc-gen-grpc=$<TARGET_FILE:gRPC::grpc_cpp_plugin>
        ${proto_root}/${proto}
      DEPENDS "${proto_root}/${proto}" protobuf::protoc gRPC::grpc_cpp_plugin
      COMMENT "protoc ${proto}"
      VERBATIM)
    list(APPEND sources ${generated})
  endforeach()
  add_library(${target} STATIC ${sources})
  target_include_directories(${target} SYSTEM PUBLIC "${out_dir}")
  target_link_libraries(${target} PUBLIC protobuf::libprotobuf gRPC::grpc++)
endfunction()
