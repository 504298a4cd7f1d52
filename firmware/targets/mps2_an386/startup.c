/* Start-up code for QEMU's Arm MPS2 AN386 (Cortex-M4F): the vector table, the FPU switched on,
 * .data copied from flash, .bss zeroed, static constructors run, then main(). */
#include <stdint.h>
#include <string.h>

extern uint32_t __stack_top;
extern uint32_t __data_load, __data_start, __data_end, __bss_start, __bss_end;
extern int main(void);
extern void __libc_init_array(void);

void edgecnn_fault_handler(void);
void edgecnn_reset_handler(void);

void edgecnn_fault_handler(void) {
  for (;;) {
  }
}

void edgecnn_reset_handler(void) {
  /* CPACR: full access to CP10 and CP11 (the FPU) before any floating-point instruction. */
  *(volatile uint32_t*)0xE000ED88u |= (0xFu << 20);
  __asm__ volatile("dsb\n isb");
  memcpy(&__data_start, &__data_load, (size_t)((char*)&__data_end - (char*)&__data_start));
  memset(&__bss_start, 0, (size_t)((char*)&__bss_end - (char*)&__bss_start));
  __libc_init_array();
  main();
  for (;;) {
  }
}

__attribute__((section(".vectors"), used))
const void* const edgecnn_vectors[16] = {&__stack_top,
                                         (void*)edgecnn_reset_handler,
                                         (void*)edgecnn_fault_handler,
                                         (void*)edgecnn_fault_handler,
                                         (void*)edgecnn_fault_handler,
                                         (void*)edgecnn_fault_handler,
                                         (void*)edgecnn_fault_handler,
                                         0,
                                         0,
                                         0,
                                         0,
                                         (void*)edgecnn_fault_handler,
                                         (void*)edgecnn_fault_handler,
                                         0,
                                         (void*)edgecnn_fault_handler,
                                         (void*)edgecnn_fault_handler};
