# Reference p-values for tests/test_split_r_reference.py: fisher.test on 2 x 2 tables.
# Usage: Rscript fisher.R input.csv out.csv; input columns: table, a, b, c, d
# (a, b: events and non-events of the held-out set; c, d: of the training set).
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], colClasses = c("character", rep("integer", 4)))
p <- sapply(seq_len(nrow(d)), function(i) {
  fisher.test(matrix(c(d$a[i], d$c[i], d$b[i], d$d[i]), nrow = 2))$p.value
})
write.csv(data.frame(table = d$table, p = sprintf("%.17g", p)), args[2], row.names = FALSE)
