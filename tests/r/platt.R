# Reference values for tests/test_platt_r_reference.py: Platt's (1999) sigmoid fit,
# written from the paper with base R's optim, independently of radsnake.ml.platt.
# Usage: Rscript platt.R input.csv out.csv
# input.csv: columns dataset, y (0/1), f (decision value). Output: dataset, key, value.
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], colClasses = c("character", "integer", "numeric"))
out <- data.frame(dataset = character(), key = character(), value = character())
add <- function(ds, key, value) {
  out <<- rbind(out, data.frame(dataset = ds, key = key, value = sprintf("%.17g", value)))
}
for (ds in unique(d$dataset)) {
  s <- d[d$dataset == ds, ]
  n1 <- sum(s$y == 1); n0 <- sum(s$y == 0)
  # Platt's smoothed targets (section 2.2)
  t <- ifelse(s$y == 1, (n1 + 1) / (n1 + 2), 1 / (n0 + 2))
  # P(y = 1 | f) = 1 / (1 + exp(A f + B)); minimise the cross-entropy to t
  nll <- function(ab) {
    eta <- ab[1] * s$f + ab[2]          # = -logit(P)
    sum(t * log1p(exp(eta)) + (1 - t) * log1p(exp(-eta)))
  }
  grad <- function(ab) {
    p <- 1 / (1 + exp(ab[1] * s$f + ab[2]))
    c(sum((t - p) * s$f), sum(t - p))
  }
  fit <- optim(c(0, log((n0 + 1) / (n1 + 1))), nll, grad, method = "BFGS",
               control = list(reltol = 1e-15, maxit = 10000))
  ab <- fit$par
  add(ds, "A", ab[1]); add(ds, "B", ab[2]); add(ds, "convergence", fit$convergence)
  add(ds, paste0("p_", seq_along(s$f) - 1), 1 / (1 + exp(ab[1] * s$f + ab[2])))
}
write.csv(out, args[2], row.names = FALSE)
