# Reference values from psych::ICC for tests/test_robustness.py.
# Usage: Rscript icc.R input.csv output.csv
# input.csv: columns dataset, case, rater, value (one rating per row, every case rated
# by every rater). output.csv: dataset, type (ICC2 / ICC3), icc, lower, upper.
# lmer = FALSE: psych's two-way ANOVA mean squares (radsnake's method; psych's default
# lme4 fit needs lme4 and matches it only up to its optimiser's tolerance).
suppressPackageStartupMessages(library(psych))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], colClasses = c("character", "integer", "integer", "numeric"))
fmt <- function(x) sprintf("%.17g", x)
out <- list()
for (ds in unique(d$dataset)) {
  s <- d[d$dataset == ds, ]
  x <- reshape(s[, c("case", "rater", "value")], idvar = "case", timevar = "rater", direction = "wide")
  x <- x[order(x$case), -1, drop = FALSE]
  r <- ICC(as.matrix(x), lmer = FALSE)$results
  for (type in c("ICC2", "ICC3")) {
    row <- r[r$type == type, ]
    out[[length(out) + 1]] <- data.frame(
      dataset = ds, type = type, icc = fmt(row$ICC),
      lower = fmt(row[["lower bound"]]), upper = fmt(row[["upper bound"]])
    )
  }
}
write.csv(do.call(rbind, out), args[2], row.names = FALSE, quote = FALSE)
