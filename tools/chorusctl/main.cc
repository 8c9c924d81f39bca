#include "tools/chorusctl/cli.h"

int main(int argc, char** argv) { return chorus::chorusctl::RunChorusctl(argc, argv); }
