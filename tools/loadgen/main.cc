#include "tools/loadgen/cli.h"

int main(int argc, char** argv) { return chorus::loadgen::RunLoadgen(argc, argv); }
