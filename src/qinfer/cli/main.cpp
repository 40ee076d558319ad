#include <cstdio>
int main() { std::puts("qinfer"); return 0; }
