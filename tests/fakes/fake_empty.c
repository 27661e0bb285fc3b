/* A shared library that exports none of a driver's symbols: it stands for a file that loads but is
 * not the library it is named after. */
int fake_empty_marker = 1;
