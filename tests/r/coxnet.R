# Reference values for tests/test_survival_selection_r_reference.py.
# Usage: Rscript coxnet.R input.csv out.csv
# input.csv: dataset, time, event, f0..f7 (standardised features).
# Output: dataset, key, value: glmnet Cox-LASSO coefficients at fixed lambdas
# (lasso_<lambda>_<feature>) and each feature's univariate Cox score-test p (score_<feature>).
suppressPackageStartupMessages({
  library(survival)
  library(glmnet)
})
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], colClasses = c(dataset = "character"))
features <- grep("^f[0-9]+$", names(d), value = TRUE)
rows <- list()
add <- function(ds, key, value) rows[[length(rows) + 1]] <<- data.frame(dataset = ds, key = key, value = sprintf("%.17g", value))
for (ds in unique(d$dataset)) {
  s <- d[d$dataset == ds, ]
  x <- as.matrix(s[, features])
  for (lambda in c(0.02, 0.05, 0.1)) {
    fit <- glmnet(x, Surv(s$time, s$event), family = "cox", lambda = lambda, standardize = FALSE,
                  thresh = 1e-20, maxit = 1e7)
    add(ds, paste0("lasso_", lambda, "_", features), as.numeric(coef(fit)))
  }
  for (f in features) {
    fit <- coxph(Surv(s$time, s$event) ~ s[[f]], ties = "breslow")
    add(ds, paste0("score_", f), summary(fit)$sctest[["pvalue"]])
  }
}
write.csv(do.call(rbind, rows), args[2], row.names = FALSE)
