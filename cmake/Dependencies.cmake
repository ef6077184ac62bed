# Every dependency is found with pkg-config (libjq, which ships no .pc file,
# with find_path/find_library). A missing one stops the configure step with
# the Debian package that provides it, so a newcomer knows what to install.

find_package(PkgConfig)
if(NOT PKG_CONFIG_FOUND)
  message(FATAL_ERROR "pkg-config not found: apt-get install -y pkg-config")
endif()

# hub360_require(<PREFIX> <pkg-config module> <Debian package>)
# Defines the imported target PkgConfig::<PREFIX>.
function(hub360_require prefix module debian)
  pkg_check_modules(${prefix} QUIET IMPORTED_TARGET GLOBAL ${module})
  if(NOT ${prefix}_FOUND)
    message(FATAL_ERROR
      "${module} not found by pkg-config: apt-get install -y ${debian}\n"
      "(scripts/install-deps installs every package hub360 needs)")
  endif()
  message(STATUS "found ${module} ${${prefix}_VERSION}")
endfunction()

hub360_require(RDKAFKA  rdkafka      librdkafka-dev)
hub360_require(AVRO     avro-c       libavro-dev)
hub360_require(JANSSON  jansson      libjansson-dev)
hub360_require(YAML     yaml-0.1     libyaml-dev)
hub360_require(CURL     libcurl      libcurl4-openssl-dev)
hub360_require(CRYPTO   libcrypto    libssl-dev)
hub360_require(LMDB     lmdb         liblmdb-dev)
hub360_require(MHD      libmicrohttpd libmicrohttpd-dev)

# libjq ships no pkg-config file in Debian 12. It brings oniguruma along
# (its own dependency), which must not be linked directly: libonig
# exports POSIX regcomp/regexec under glibc's names, with another regex_t,
# and a direct link would put them ahead of glibc's for all of hub360.
find_path(HUB360_JQ_INCLUDE jq.h)
find_library(HUB360_JQ_LIB jq)
if(NOT HUB360_JQ_INCLUDE OR NOT HUB360_JQ_LIB)
  message(FATAL_ERROR
    "libjq not found: apt-get install -y libjq-dev libonig-dev\n"
    "(scripts/install-deps installs every package hub360 needs)")
endif()
set(HUB360_JQ_LIBRARIES ${HUB360_JQ_LIB})
include_directories(SYSTEM ${HUB360_JQ_INCLUDE})
message(STATUS "found libjq ${HUB360_JQ_LIB}")
hub360_require(XML2     libxml-2.0   libxml2-dev)
