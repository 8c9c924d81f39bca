# Every dependency comes from a Debian 12 package (scripts/install-deps.sh installs them).
# Nothing is downloaded at build time.

find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
find_package(absl CONFIG REQUIRED)
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
find_package(prometheus-cpp CONFIG REQUIRED)
find_package(civetweb CONFIG REQUIRED)
find_package(OpenSSL REQUIRED)
# zlib: the CRC-32 of STUN FINGERPRINT attributes (pipeline/ice).
find_package(ZLIB REQUIRED)
find_package(GTest REQUIRED)
if(CHORUS_BUILD_BENCHMARKS)
  find_package(benchmark REQUIRED)
endif()

pkg_check_modules(FFMPEG REQUIRED IMPORTED_TARGET
  libavcodec libavformat libavutil libswresample libswscale)
pkg_check_modules(SRTP2 REQUIRED IMPORTED_TARGET libsrtp2)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)
# SRTP's AES counter mode and HMAC-SHA1 (pipeline/srtp/srtp_crypto.cc).
pkg_check_modules(NETTLE REQUIRED IMPORTED_TARGET nettle)
# The controller's state file (services/controller/sqlite_room_store.cc).
pkg_check_modules(SQLITE3 REQUIRED IMPORTED_TARGET sqlite3)
# The store of controller replicas (services/controller/postgres_room_store.cc): libpq, the C
# client of PostgreSQL.
pkg_check_modules(LIBPQ REQUIRED IMPORTED_TARGET libpq)
# libnice: tests only, an independent STUN/ICE implementation that checks pipeline/ice.
pkg_check_modules(NICE REQUIRED IMPORTED_TARGET nice)
# The SIP role's SIP stack (Debian's libsofia-sip-ua-dev).
pkg_check_modules(SOFIA REQUIRED IMPORTED_TARGET sofia-sip-ua)
pkg_check_modules(OPUS REQUIRED IMPORTED_TARGET opus)
pkg_check_modules(VPX REQUIRED IMPORTED_TARGET vpx)
pkg_check_modules(X264 REQUIRED IMPORTED_TARGET x264)

# libyuv ships no pkg-config file or CMake package in Debian 12.
find_path(LIBYUV_INCLUDE_DIR libyuv.h REQUIRED)
find_library(LIBYUV_LIBRARY yuv REQUIRED)
add_library(chorus_libyuv INTERFACE)
target_include_directories(chorus_libyuv INTERFACE "${LIBYUV_INCLUDE_DIR}")
target_link_libraries(chorus_libyuv INTERFACE "${LIBYUV_LIBRARY}")
add_library(Chorus::libyuv ALIAS chorus_libyuv)

if(NOT TARGET gRPC::grpc_cpp_plugin)
  message(FATAL_ERROR "gRPC's CMake package does not export gRPC::grpc_cpp_plugin; "
                      "install protobuf-compiler-grpc")
endif()
