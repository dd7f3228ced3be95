# Harrell's C and its CI for tests/test_survival_workflow.py: survival::concordance on each
# model and set of predictions.csv. Usage: Rscript concordance.R input.csv out.csv
# input.csv: dataset, time, event, risk. Output: dataset, key, value (17 digits).
suppressPackageStartupMessages(library(survival))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], colClasses = c(dataset = "character"))
rows <- list()
for (ds in unique(d$dataset)) {
  cf <- concordance(Surv(time, event) ~ risk, data = d[d$dataset == ds, ], reverse = TRUE)
  se <- sqrt(cf$var)
  values <- c(c_index = cf$concordance, c_index_ci_low = cf$concordance - qnorm(0.975) * se,
              c_index_ci_high = cf$concordance + qnorm(0.975) * se)
  rows[[ds]] <- data.frame(dataset = ds, key = names(values), value = sprintf("%.17g", values))
}
write.csv(do.call(rbind, rows), args[2], row.names = FALSE)
