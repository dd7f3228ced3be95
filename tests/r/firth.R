# Reference values of Firth's bias-reduced logistic regression from brglm2, for
# tests/test_clinical_firth.py.
# Usage: Rscript firth.R data.csv out.csv
#   data.csv: dataset, y (0/1), age, sex (0/1), radscore
# Output: long CSV  dataset,term,coef,se  (17 significant digits).
suppressPackageStartupMessages(library(brglm2))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], colClasses = c("character", "integer", "numeric", "integer", "numeric"))
rows <- list()
for (name in unique(d$dataset)) {
  part <- d[d$dataset == name, ]
  fit <- glm(y ~ age + sex + radscore, family = binomial, data = part, method = "brglmFit",
             type = "AS_mean", control = brglmControl(epsilon = 1e-14, maxit = 500))
  tab <- summary(fit)$coefficients
  rows[[name]] <- data.frame(dataset = name, term = rownames(tab), coef = sprintf("%.17g", tab[, 1]),
                             se = sprintf("%.17g", tab[, 2]))
}
write.csv(do.call(rbind, rows), args[2], row.names = FALSE)
