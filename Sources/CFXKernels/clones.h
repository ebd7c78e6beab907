/* CLONES: a function compiled for AVX-512, AVX2 and baseline x86-64, one chosen when cfx loads.
 * The clones are static and each is reached through a plain exported function: an exported
 * chooser (an IFUNC symbol) whose address Swift took, as it may, was left null by the loader. */
#ifndef CFX_CLONES_H
#define CFX_CLONES_H
#if defined(__x86_64__)
#define CLONES static __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CLONES static
#endif
#endif
