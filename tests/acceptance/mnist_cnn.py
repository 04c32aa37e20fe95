"""The MNIST example's CNN, in the shape of PyTorch's examples/mnist: Conv2d, ReLU, max_pool2d,
Dropout, flatten, log_softmax and nll_loss, trained with Adadelta and StepLR from a DataLoader,
with a test loop counting correct predictions. The images are a small synthetic set: four
classes of 12x12 stripe patterns under noise."""
import numpy as np

from ._common import numpy_state, load_numpy_state


def synthetic_images(n=64, size=12, seed=0):
    """n noisy images of four classes: horizontal, vertical, diagonal stripes, a centred box."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    patterns = [(yy % 4 < 2), (xx % 4 < 2), ((xx + yy) % 4 < 2),
                (abs(xx - size / 2 + .5) < 3) & (abs(yy - size / 2 + .5) < 3)]
    labels = rng.integers(0, 4, n)
    images = np.stack([patterns[c] for c in labels]).astype("float64")
    images += 0.5 * rng.standard_normal(images.shape)
    return ((images - 0.5) / 0.5)[:, None], labels.astype("int64")


def build(torch, dropout):
    nn, F = torch.nn, torch.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 4, 3, 1)
            self.conv2 = nn.Conv2d(4, 8, 3, 1)
            self.dropout1 = nn.Dropout(dropout[0])
            self.dropout2 = nn.Dropout(dropout[1])
            self.fc1 = nn.Linear(128, 32)
            self.fc2 = nn.Linear(32, 4)

        def forward(self, x):
            x = self.conv1(x)
            x = F.relu(x)
            x = self.conv2(x)
            x = F.relu(x)
            x = F.max_pool2d(x, 2)
            x = self.dropout1(x)
            x = torch.flatten(x, 1)
            x = self.fc1(x)
            x = F.relu(x)
            x = self.dropout2(x)
            x = self.fc2(x)
            return F.log_softmax(x, dim=1)

    return Net


def run(torch, state=None, seed=1, epochs=3, batch_size=16, lr=1.0, gamma=0.7,
        dropout=(0.0, 0.0), shuffle=False):
    """Returns the initial weights, per-batch training losses, and per-epoch test loss,
    accuracy and learning rate."""
    F, optim = torch.nn.functional, torch.optim
    from_data = torch.utils.data
    torch.manual_seed(seed)
    device = torch.device("cpu")
    x, y = synthetic_images(96)
    train_set = from_data.TensorDataset(torch.tensor(x[:64]), torch.tensor(y[:64]))
    test_set = from_data.TensorDataset(torch.tensor(x[64:]), torch.tensor(y[64:]))
    train_loader = from_data.DataLoader(train_set, batch_size=batch_size, shuffle=shuffle)
    test_loader = from_data.DataLoader(test_set, batch_size=100)

    model = build(torch, dropout)().to(device).double()
    if state is not None:
        load_numpy_state(torch, model, state)
    init_state = numpy_state(model)
    optimizer = optim.Adadelta(model.parameters(), lr=lr)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=gamma)

    losses, test_losses, accuracies, lrs = [], [], [], []
    for epoch in range(1, epochs + 1):
        model.train()
        for batch_idx, (data, target) in enumerate(train_loader):
            data, target = data.to(device), target.to(device)
            optimizer.zero_grad()
            output = model(data)
            loss = F.nll_loss(output, target)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        model.eval()
        test_loss, correct = 0, 0
        with torch.no_grad():
            for data, target in test_loader:
                output = model(data)
                test_loss += F.nll_loss(output, target, reduction="sum").item()
                pred = output.argmax(dim=1, keepdim=True)
                correct += pred.eq(target.view_as(pred)).sum().item()
        test_losses.append(test_loss / len(test_loader.dataset))
        accuracies.append(correct / len(test_loader.dataset))
        lrs.append(scheduler.get_last_lr()[0])
        scheduler.step()
    return {"init_state": init_state, "losses": losses, "test_losses": test_losses,
            "accuracies": accuracies, "lrs": lrs}
