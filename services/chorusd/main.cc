#include "services/chorusd/app.h"

int main(int argc, char** argv) { return chorus::chorusd::RunChorusd(argc, argv); }
