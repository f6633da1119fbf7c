/* libfp8q - fp8q built as a shared library, for the Python bridge
   (python/fp8q.py, ctypes) and other foreign-function users. Every public
   fp8q_* function is exported with the declarations of fp8q.h.

   Build (from the repository root):
       cc -std=c99 -O2 -fPIC -shared -I. tools/libfp8q.c -o build/libfp8q.so -lm -pthread */
#define FP8Q_IMPLEMENTATION
#include "fp8q.h"
