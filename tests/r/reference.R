# Reference values from pROC for tests/test_stats_r_reference.py.
# Usage: Rscript reference.R input.csv scalars_out.csv curves_out.csv
# input.csv: columns dataset, y (0/1), a, b (two score columns per data set).
suppressPackageStartupMessages(library(pROC))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], colClasses = c("character", "integer", "numeric", "numeric"))
fmt <- function(x) sprintf("%.17g", x)
scal <- list()
curves <- list()
add <- function(ds, key, value) {
  scal[[length(scal) + 1]] <<- data.frame(dataset = ds, key = key, value = fmt(value))
}
for (ds in unique(d$dataset)) {
  s <- d[d$dataset == ds, ]
  for (col in c("a", "b")) {
    r <- roc(s$y, s[[col]], direction = "<", levels = c(0, 1), quiet = TRUE)
    ci <- ci.auc(r, method = "delong")
    add(ds, paste0(col, "_auc"), as.numeric(auc(r)))
    add(ds, paste0(col, "_var"), var(r, method = "delong"))
    add(ds, paste0(col, "_ci_low"), ci[1])
    add(ds, paste0(col, "_ci_high"), ci[3])
    best <- coords(r, "best", best.method = "youden",
                   ret = c("threshold", "sensitivity", "specificity"), transpose = FALSE)
    add(ds, paste0(col, "_youden_n"), nrow(best))
    add(ds, paste0(col, "_youden_threshold"), best$threshold[1])
    add(ds, paste0(col, "_youden_sensitivity"), best$sensitivity[1])
    add(ds, paste0(col, "_youden_specificity"), best$specificity[1])
    at <- coords(r, x = best$threshold[1], input = "threshold",
                 ret = c("tp", "fp", "tn", "fn", "ppv", "npv", "accuracy"), transpose = FALSE)
    for (k in names(at)) add(ds, paste0(col, "_at_youden_", k), at[[k]][1])
    all <- coords(r, "all", ret = c("threshold", "sensitivity", "specificity"), transpose = FALSE)
    curves[[length(curves) + 1]] <- data.frame(
      dataset = ds, score = col, threshold = fmt(all$threshold),
      sensitivity = fmt(all$sensitivity), specificity = fmt(all$specificity))
  }
  r1 <- roc(s$y, s$a, direction = "<", levels = c(0, 1), quiet = TRUE)
  r2 <- roc(s$y, s$b, direction = "<", levels = c(0, 1), quiet = TRUE)
  tt <- suppressWarnings(roc.test(r1, r2, method = "delong", paired = TRUE))
  add(ds, "test_z", tt$statistic)
  add(ds, "test_p", tt$p.value)
}
write.csv(do.call(rbind, scal), args[2], row.names = FALSE)
write.csv(do.call(rbind, curves), args[3], row.names = FALSE)
