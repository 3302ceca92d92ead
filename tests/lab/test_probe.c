/* twkit probe in the lab: real targets, real kernel state. */
#include <criterion/criterion.h>
